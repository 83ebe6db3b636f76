import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Target } from '../config.js';
import { formatDuration } from '../duration.js';
import { DbopsError } from '../errors.js';
import { sanitizeSnapshotName, type RestoreRequest, type SnapshotCheckpoint } from '../providers/index.js';
import { databaseOf, onDatabase } from '../postgres/rename.js';
import { openTargetSession } from '../postgres/session.js';
import { columnsByTable, diffColumns, freshness, schemaVersions, tableCounts, type FreshnessResult, type SchemaDiff, type SchemaVersion, type TableCount } from '../postgres/validation.js';
import { pollIntervalMs } from './poll-interval.js';
import { abortRestore } from './restore-abort.js';
import { checkedProvider, providerOf } from './providers.js';
import { cloudBaseFacts, cloudLeftState, cloudPrecheck, cloudRestoreStep, cloudResult, cloudValidate, isCloud, planCloudRestore, type CloudRestoreFacts } from './restore-cloud.js';
import { defineRunbook, type Fact, type Risk } from './runbook.js';

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

// ISO 8601 with a zone (Z or ±hh:mm): a restore time without one would be read in the bot's zone.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const args = z
  .object({
    snapshot: z.string().min(1, 'name the dump with --snapshot ID (see `/db snapshots`)').max(255).optional(),
    /** Cloud engines: a point in time inside the restorable window instead of a snapshot. */
    'to-time': z.string().regex(ISO_TIME, 'a point in time is ISO 8601 with its zone, like 2026-11-16T14:30:00Z').refine((v) => !Number.isNaN(Date.parse(v)), 'not a valid date and time').optional(),
    // Per engine in plan: database names (self-hosted), instance/cluster identifiers (AWS), server names (Azure).
    as: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_-]{0,62}$/, 'a new name is letters, digits, _ and -, at most 63, not starting with a digit').optional(),
  })
  .strict()
  .refine((a) => (a.snapshot === undefined) !== (a['to-time'] === undefined), { message: 'name the source: --snapshot ID (see `/db snapshots`) or --to-time 2026-11-16T14:30:00Z (cloud engines), one of them', path: ['snapshot'] });
type Args = z.infer<typeof args>;

interface Facts {
  snapshotId: string;
  /** The dump's point in time (its exported snapshot): freshness columns must not be later. */
  restorePoint: string;
  sourceDatabase: string;
  newDatabase: string;
  freshness: string[];
  /** Cloud engines (restore-cloud.ts): the fields above are then for display, these drive the steps. */
  cloud?: CloudRestoreFacts;
}

interface PrecheckOutput {
  expected: Array<{ table: string; rows: number }>;
  [k: string]: unknown;
}

interface ValidateOutput {
  runId: string;
  target: string;
  tables: Array<{ table: string; manifest?: number; restored?: number; source?: number; sourceExact?: boolean }>;
  restoredVsManifest: string[];
  sourceDiffers: string[];
  schema: { restored: SchemaVersion[]; source: SchemaVersion[] };
  diff: SchemaDiff;
  freshness: FreshnessResult[];
  [k: string]: unknown;
}

const VERB = '/db restore';

/** Production restores are destructive (a second person approves); elsewhere a change, unless policy says more. */
export function restoreRisk(target: Target | undefined): Risk {
  return !target || /^prod(uction)?$/i.test(target.environment) ? 'destructive' : 'change';
}

/** Deterministic from the request, so the re-plan at approval hashes the same: `<db>_r_<8 hex of the snapshot id>`. */
export function defaultRestoreName(sourceDb: string, snapshotId: string): string {
  const base = sourceDb.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z_]+/, '').slice(0, 50) || 'db';
  return `${base}_r_${createHash('sha256').update(snapshotId).digest('hex').slice(0, 8)}`;
}

export const preRestoreSnapshotId = (target: string, runId: string): string => sanitizeSnapshotName(`dbops-${target}-pre-restore-${runId}`)!;

function request(f: Facts, runId: string): RestoreRequest {
  return { snapshotId: f.snapshotId, newName: f.newDatabase, owner: runId };
}

export const restore = defineRunbook<Args, Facts>({
  name: 'restore',
  brief: 'Restore into a NEW database or instance; the target is not touched',
  summary: 'Restore a dump into a NEW database next to the target (pre-restore snapshot first), validate it, and offer a cutover. The target is not touched.',
  usage: '/db restore <target> --snapshot ID [--as NAME]',
  examples: ['/db restore orders-prod --snapshot before-migration-42', '/db restore orders-prod --snapshot before-migration-42 --as orders_restored --reason "bad DELETE at 14:31"'],
  grammar: {
    positionals: [],
    flags: {
      snapshot: { kind: 'string', help: 'the dump to restore (an id from `/db snapshots`)' },
      'to-time': { kind: 'string', help: 'cloud engines: restore to this point in time (ISO 8601 with zone) instead of a snapshot' },
      as: { kind: 'string', help: 'name of the NEW database (default <database>_r_<hash of the dump id>), instance, cluster or server (default <id>-r-<hash>)' },
    },
  },
  args,
  risk: (_a, target) => restoreRisk(target),
  // Without --snapshot (or --to-time) the restore modal asks for the source; see handlers/restore-modal.ts.
  modal: 'restore',
  broadcastResult: true,
  abort: abortRestore,
  plan: async ({ target, args: a, runId }) => {
    if (isCloud(target)) {
      const p = await planCloudRestore(target, { snapshot: a.snapshot, toTime: a['to-time'], as: a.as }, VERB, runId);
      return { ...p, facts: { ...cloudBaseFacts(target, p.facts), cloud: p.facts } };
    }
    if (a.snapshot === undefined) throw new DbopsError('bad_input', `A point-in-time restore (--to-time) is not on ${target.engine}: restore a dump with --snapshot ID (see \`/db snapshots ${target.name}\`).`);
    if (a.as !== undefined && !DB_NAME.test(a.as)) throw new DbopsError('bad_input', '`as`: a new database name is lower-case letters, digits and _, at most 63, not starting with a digit');
    const provider = checkedProvider(target, 'restore', VERB);
    if (!provider.checkRestore || !provider.restoreSnapshot) throw new DbopsError('provider', `\`${VERB}\` is not on ${target.engine} yet.`);
    const sourceDatabase = databaseOf(target.url);
    const newDatabase = a.as ?? defaultRestoreName(sourceDatabase, a.snapshot);
    // Cheap pre-checks now, so a refusal creates nothing and needs no approval; the artifact's
    // checksum is read by the run's first step (it may be gigabytes, too slow for a request).
    const check = await provider.checkRestore({ snapshotId: a.snapshot, newName: newDatabase, owner: runId ?? 'request' }, { deep: false });
    if (check.problems.length || !check.snapshot?.createdAt) throw new DbopsError('bad_input', `Restore refused, nothing was created: ${check.problems.join(' ') || 'the dump has no time.'}`);
    const size = check.snapshot.sizeBytes ?? 0;
    const facts: Facts = { snapshotId: a.snapshot, restorePoint: check.snapshot.createdAt.toISOString(), sourceDatabase, newDatabase, freshness: [...(target.freshness ?? [])] };
    return {
      summary: `Restore ${a.snapshot} into the new database ${newDatabase} (next to ${target.name})`,
      steps: [
        `Pre-checks: ${a.snapshot} intact (size and sha256 vs its manifest), ${newDatabase} free, credentials`,
        `Pre-restore snapshot of ${target.name} as ${preRestoreSnapshotId(target.name, '<run>')}`,
        `CREATE DATABASE ${newDatabase}; pg_restore -j ${target.backups?.jobs ?? 2} --no-owner --exit-on-error`,
        `Validate: row counts vs the manifest and vs ${target.name}, schema version, tables/columns, freshness`,
        `Offer the cutover (a separate destructive request)`,
      ],
      facts,
      display: [
        { label: 'Dump', value: a.snapshot, code: true },
        { label: 'Restore point', value: facts.restorePoint },
        { label: 'New database', value: newDatabase, code: true },
        { label: 'Source database (untouched)', value: sourceDatabase, code: true },
      ],
      impact: `restores into a NEW database ${newDatabase}; ${target.name} is untouched until cutover. The restore and validation read and write the same server (I/O and CPU for pg_restore -j ${target.backups?.jobs ?? 2}).`,
      // Rough: pre-restore dump + restore at ~50 MB/s each, plus validation.
      etaSeconds: Math.max(60, Math.round((2 * size) / 50e6) + 60),
    };
  },
  steps: [
    {
      name: 'precheck',
      title: 'Pre-checks',
      run: async (ctx) => {
        if (ctx.facts.cloud) return cloudPrecheck(ctx);
        const check = await providerOf(ctx.target).checkRestore!(request(ctx.facts, ctx.runId), {
          deep: true,
          signal: ctx.signal,
          onProgress: (p) => ctx.progress({ text: p.message }),
        });
        if (check.problems.length) throw new DbopsError('bad_input', `Restore refused at pre-check, nothing was created: ${check.problems.join(' ')}`);
        return { expected: [...(check.expected ?? [])] } satisfies PrecheckOutput;
      },
    },
    {
      name: 'pre-restore-snapshot',
      title: 'Pre-restore snapshot',
      run: async (ctx) => {
        // Always, even when the source is the thing that is broken: it is the way back from anything that follows.
        const id = preRestoreSnapshotId(ctx.target.name, ctx.runId);
        const provider = providerOf(ctx.target);
        let cp = ctx.checkpoint.preRestore as SnapshotCheckpoint | undefined;
        if (!cp || cp.snapshotId !== id) {
          const r = await provider.startSnapshot(id, { signal: ctx.signal, onProgress: (p) => ctx.progress({ text: `pre-restore snapshot: ${p.message}`, ...(p.percent !== undefined ? { percent: p.percent } : {}) }) });
          cp = r.checkpoint;
          await ctx.saveCheckpoint({ preRestore: cp });
        }
        const polled = await provider.pollSnapshot(cp, { signal: ctx.signal });
        await ctx.saveCheckpoint({ preRestore: polled.checkpoint });
        if (!polled.done) return ctx.pollAgain(pollIntervalMs(), { text: `pre-restore snapshot ${id}: ${polled.progress?.message ?? 'creating'}` });
        return { snapshotId: id };
      },
    },
    {
      name: 'restore',
      title: 'Restoring into a new database',
      // Cloud restores of large databases take hours (the step is parked between looks, no worker held).
      deadlineMs: 12 * 3600_000,
      run: async (ctx) => {
        if (ctx.facts.cloud) return cloudRestoreStep(ctx);
        const r = await providerOf(ctx.target).restoreSnapshot!(request(ctx.facts, ctx.runId), {
          signal: ctx.signal,
          onProgress: (p) => ctx.progress({ text: p.message, ...(p.percent !== undefined ? { percent: p.percent } : {}) }),
        });
        return { newDatabase: r.newName, alreadyRestored: r.alreadyRestored, durationMs: r.durationMs };
      },
    },
    {
      name: 'validate',
      title: 'Validating',
      run: async (ctx) => {
        if (ctx.facts.cloud) return cloudValidate(ctx);
        const f = ctx.facts;
        const expected = (ctx.outputs.precheck as PrecheckOutput).expected;
        ctx.progress({ text: `counting rows in ${f.newDatabase} and ${f.sourceDatabase}` });
        const restoredC = await openTargetSession(onDatabase(ctx.target.url, f.newDatabase), { statementTimeoutMs: 0 }, `the restored database ${f.newDatabase}`);
        let restored: { counts: TableCount[]; schema: SchemaVersion[]; cols: Record<string, string[]>; fresh: FreshnessResult[] };
        try {
          restored = {
            // The restored copy is ours and idle: count every table exactly.
            counts: await tableCounts(restoredC, Number.POSITIVE_INFINITY),
            schema: await schemaVersions(restoredC),
            cols: await columnsByTable(restoredC),
            fresh: await freshness(restoredC, f.freshness, new Date(f.restorePoint)),
          };
        } finally {
          await restoredC.end().catch(() => undefined);
        }
        const source = await ctx.session(async (c) => {
          await c.query('SET statement_timeout = 0');
          return { counts: await tableCounts(c), schema: await schemaVersions(c), cols: await columnsByTable(c) };
        });
        const man = new Map(expected.map((t) => [t.table, t.rows]));
        const rest = new Map(restored.counts.map((t) => [t.table, t.rows]));
        const src = new Map(source.counts.map((t) => [t.table, t]));
        const names = [...new Set([...man.keys(), ...rest.keys(), ...src.keys()])].sort();
        const tables = names.map((t) => ({
          table: t,
          ...(man.has(t) ? { manifest: man.get(t)! } : {}),
          ...(rest.has(t) ? { restored: rest.get(t)! } : {}),
          ...(src.has(t) ? { source: src.get(t)!.rows, sourceExact: src.get(t)!.exact } : {}),
        }));
        const restoredVsManifest = tables.filter((t) => t.manifest !== undefined && t.restored !== t.manifest).map((t) => `${t.table}: ${t.restored ?? 'missing'} restored, manifest ${t.manifest}`);
        const sourceDiffers = tables.filter((t) => t.restored !== t.source).map((t) => `${t.table}: restored ${t.restored ?? 'missing'}, ${ctx.target.name} now ${t.source === undefined ? 'missing' : `${t.sourceExact ? '' : '~'}${t.source}`}`);
        return {
          runId: ctx.runId,
          target: ctx.target.name,
          tables,
          restoredVsManifest,
          sourceDiffers,
          schema: { restored: restored.schema, source: source.schema },
          diff: diffColumns(source.cols, restored.cols),
          freshness: restored.fresh,
        } satisfies ValidateOutput;
      },
    },
  ],
  leftState: (step, f, runId) => {
    if (f.cloud) return cloudLeftState(step, f.cloud, runId);
    switch (step) {
      case 'precheck':
        return `Nothing was created; ${f.newDatabase} does not exist. The target was not touched.`;
      case 'pre-restore-snapshot':
        return `The pre-restore snapshot may be incomplete (it is only listed once finished). No database was created. The target was not touched.`;
      case 'restore':
        return `The new database ${f.newDatabase} may exist half-restored (or was dropped after a pg_restore error); resuming this run drops and redoes it. The pre-restore snapshot exists. The target was not touched.`;
      default:
        return `${f.newDatabase} is restored but its validation did not finish; check it by hand before any cutover. The target was not touched.`;
    }
  },
  result: (outputs, f) => {
    if (f.cloud) return cloudResult(outputs, f.cloud);
    const v = outputs.validate as ValidateOutput;
    const r = outputs.restore as { alreadyRestored: boolean; durationMs: number };
    const pre = (outputs['pre-restore-snapshot'] as { snapshotId: string }).snapshotId;
    const ver = (xs: SchemaVersion[]) => xs.map((x) => `${x.tool} ${x.version ?? '(none)'}${x.dirty ? ' DIRTY' : ''}`).join(', ') || 'no migration table';
    const diff = [...v.diff.onlyInSource.map((t) => `only in source: ${t}`), ...v.diff.onlyInRestored.map((t) => `only in restored: ${t}`), ...v.diff.changed];
    const fresh = v.freshness.map((x) => `${x.column}: ${x.ok ? 'ok' : 'PROBLEM'} (${x.problem ?? `max ${x.max ?? 'empty'}`})`);
    const problems = v.restoredVsManifest.length + v.freshness.filter((x) => !x.ok).length + v.schema.restored.filter((x) => x.dirty).length;
    const facts: Fact[] = [
      { label: 'New database', value: f.newDatabase, code: true },
      { label: 'Rows vs manifest', value: v.restoredVsManifest.length ? v.restoredVsManifest.slice(0, 10).join('\n') : `all ${v.tables.filter((t) => t.manifest !== undefined).length} tables match` },
      { label: 'Differs from the source now', value: v.sourceDiffers.length ? v.sourceDiffers.slice(0, 10).join('\n') : 'no table differs in row count' },
      { label: 'Schema version', value: `restored: ${ver(v.schema.restored)}\nsource: ${ver(v.schema.source)}` },
      { label: 'Tables/columns vs source', value: diff.length ? diff.slice(0, 10).join('\n') : 'same' },
      ...(fresh.length ? [{ label: 'Freshness', value: fresh.join('\n') }] : []),
      { label: 'Pre-restore snapshot', value: pre, code: true },
      { label: 'Restore time', value: r.alreadyRestored ? 'done by an earlier attempt of this run' : formatDuration(r.durationMs / 1000) },
      { label: 'Cut over (a separate destructive request)', value: `/db cutover ${v.target} ${v.runId}`, code: true },
    ];
    // A restore that does not match its manifest (or is too fresh) is said first, not buried in the facts.
    const warn = problems ? `:warning: validation found ${problems} problem(s), check them before any cutover. ` : '';
    return { headline: `${warn}Restored ${f.snapshotId} into the new database ${f.newDatabase}; ${v.target} is untouched until cutover`, facts };
  },
});
