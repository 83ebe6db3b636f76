/**
 * `/db backup verify <target> [snapshot]`. Self-hosted: restore the newest (or the named) dump into
 * a scratch database, compare per-table row counts with the dump's manifest, drop the scratch copy,
 * report (the one `verify` step). Cloud engines: restore the snapshot into a scratch instance, compare
 * with the source, delete it, then the verdict (backup-verify-cloud.ts). The steps list holds both
 * paths; each step does nothing on the engine it is not for.
 */
import { z } from 'zod';
import type { Target } from '../config.js';
import { formatDuration } from '../duration.js';
import { providerOf } from './providers.js';
import { DbopsError } from '../errors.js';
import { ENGINE_CAPABILITIES, providerFor, type Provider, type ProviderTarget, type VerifyReport } from '../providers/index.js';
import { SNAPSHOT_ID_RE } from '../providers/snapshot-id.js';
import { abortCloudVerify, cloudVerifyLeftState, cloudVerifyResult, compareStep, planCloudVerify, scratchDeleteStep, scratchRestoreStep, verdictStep, type CloudVerifyFacts } from './backup-verify-cloud.js';
import { isCloud, KIND } from './restore-cloud.js';
import { defineRunbook, type StepContext } from './runbook.js';

const args = z
  .object({
    snapshot: z.string().max(255, 'that snapshot id is too long').regex(SNAPSHOT_ID_RE, 'a snapshot id looks like `dbops-orders-prod-202612011020-r1a2b3`; see `/db snapshots <target>`').optional(),
  })
  .strict();
type Args = z.infer<typeof args>;
type Facts = { snapshotId: string; createdAt: string | null; sizeBytes: number | null; scratchServer: string; cloud?: CloudVerifyFacts };

/** A step of one path only: on the other engine kind it records that it had nothing to do. */
const only = (cloud: boolean, run: (ctx: StepContext<Args, Facts>) => Promise<Record<string, unknown>>) => async (ctx: StepContext<Args, Facts>) =>
  (ctx.facts.cloud !== undefined) === cloud ? run(ctx) : { skipped: cloud ? 'self-hosted: done by the verify step' : 'cloud: see the following steps' };

/** Tables listed in the result; the rest are counted. */
const SHOWN_TABLES = 10;
/** Problems listed in a failure; the rest are counted. */
const SHOWN_PROBLEMS = 8;

/** Refused at request time, in words, when the engine cannot verify (the capability matrix says which can). */
export function verifyProvider(target: Target): Provider {
  if (!ENGINE_CAPABILITIES[target.engine].has('verify')) {
    throw new DbopsError('provider', `\`/db backup verify\` is not on ${target.engine}.`);
  }
  return isCloud(target) ? providerOf(target) : providerFor(target);
}

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

export function tableLines(r: Pick<VerifyReport, 'tables'>, shown = SHOWN_TABLES): string {
  const rows = r.tables.slice(0, shown).map((t) => `${t.table}  ${t.expectedRows} → ${t.restoredRows ?? 'missing'}${t.restoredRows === t.expectedRows ? '' : '  ✗'}`);
  const rest = r.tables.length - shown;
  if (rest > 0) rows.push(`… and ${rest} more table${rest === 1 ? '' : 's'}`);
  return rows.join('\n') || '(the dump has no tables)';
}

/** The failure users read: what is wrong, what matched, and that nothing was left behind. */
export function failureText(r: VerifyReport): string {
  const shown = r.problems.slice(0, SHOWN_PROBLEMS).map((p) => `• ${p}`);
  if (r.problems.length > SHOWN_PROBLEMS) shown.push(`• … and ${r.problems.length - SHOWN_PROBLEMS} more`);
  const matched = r.tables.filter((t) => t.restoredRows === t.expectedRows).length;
  const compared = r.tables.length ? `Row counts: ${matched} of ${r.tables.length} tables match. ` : '';
  const scratch = r.scratch ? `The scratch database ${r.scratch} was dropped.` : 'No scratch database was created.';
  return [`Backup ${r.snapshotId} FAILED verification (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}):`, ...shown, `${compared}${scratch}`].join('\n');
}

export const backupVerify = defineRunbook<Args, Facts>({
  name: 'backup verify',
  brief: 'Restore a backup into a scratch copy and compare row counts',
  summary: "Restore the newest (or the named) dump/snapshot into a scratch database (self-hosted) or instance (cloud), compare every table's row count with the dump's manifest or the source, delete the scratch copy.",
  usage: '/db backup verify <target> [snapshot]',
  examples: ['/db backup verify orders-prod', '/db backup verify orders-prod dbops-orders-prod-202612011020-r1a2b3'],
  grammar: {
    positionals: [{ name: 'snapshot', required: false, help: 'snapshot/dump id from `/db snapshots` (default: the newest)' }],
    flags: {},
  },
  args,
  // It creates and drops a database on the target's server (or backups.scratchUrl): a change there.
  risk: () => 'change',
  plan: async ({ target, args: a }) => {
    const provider = verifyProvider(target);
    if (isCloud(target)) {
      const { snapshot: s, cloud } = await planCloudVerify(target, a.snapshot);
      const k = KIND[cloud.engine];
      return {
        summary: `Verify backup ${s.id} of ${target.name}`,
        steps: [`Restore ${s.id} into a scratch ${k} dbops-verify-<run> (no pre-restore snapshot, no cutover); wait until available`, `Compare per-table row counts with ${target.name} now`, `Delete the scratch ${k} (also when the comparison fails)`, 'Verdict: fail on a table missing, or empty in the scratch copy but not in the source'],
        facts: { snapshotId: s.id, createdAt: s.createdAt?.toISOString() ?? null, sizeBytes: s.sizeBytes ?? null, scratchServer: `a scratch ${k}`, cloud },
        display: [
          { label: 'Snapshot', value: s.id, code: true },
          ...(s.createdAt ? [{ label: 'Taken', value: s.createdAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' }] : []),
          { label: 'Restored on', value: `a scratch ${k} (deleted afterwards)` },
        ],
        impact: `Creates a scratch ${k} from the snapshot (billed while it exists, usually under an hour), reads every table there and in ${cloud.source}, and deletes it without a final snapshot. ${cloud.source} is only read.`,
        etaSeconds: cloud.engine === 'azure-flexible' ? 2700 : 2100,
      };
    }
    // Pinned now, so an approval binds to one dump and the card says which.
    const dumps = await provider.listSnapshots();
    const dump = a.snapshot ? dumps.find((s) => s.id === a.snapshot) : dumps[0];
    if (!dump) {
      throw new DbopsError(
        'not_found',
        a.snapshot ? `No finished dump \`${a.snapshot}\` of ${target.name}. See \`/db snapshots ${target.name}\`.` : `${target.name} has no finished dump yet. Take one with \`/db snapshot ${target.name}\`.`,
      );
    }
    const asProvider: ProviderTarget = target; // the provider layer's view of the target carries `backups`
    const scratchServer = asProvider.backups?.scratchUrl ? 'backups.scratchUrl' : "the target's server";
    return {
      summary: `Verify backup ${dump.id} of ${target.name}`,
      steps: [`Check ${dump.id} against its manifest (size, sha256)`, `Restore it into a scratch database on ${scratchServer}`, 'Compare per-table row counts with the manifest', 'Drop the scratch database (also when the comparison fails)'],
      facts: { snapshotId: dump.id, createdAt: dump.createdAt?.toISOString() ?? null, sizeBytes: dump.sizeBytes ?? null, scratchServer },
      display: [
        { label: 'Dump', value: dump.id, code: true },
        ...(dump.createdAt ? [{ label: 'Taken', value: dump.createdAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' }] : []),
        ...(dump.sizeBytes !== undefined ? [{ label: 'Size', value: mib(dump.sizeBytes) }] : []),
        { label: 'Restored on', value: scratchServer },
      ],
      impact: `Creates a scratch database on ${scratchServer} (needs CREATEDB and free disk about the database's size), restores into it with pg_restore, and drops it. The target's own data is only read.`,
      ...(dump.sizeBytes ? { etaSeconds: Math.max(10, Math.round(dump.sizeBytes / 20e6)) } : {}),
    };
  },
  // A newer dump after the request changes nothing: the approved one is verified. Gone: refuse.
  drift: (approved, current) => (current ? { ok: true, ...(current.snapshotId !== approved.snapshotId ? { note: `a newer dump exists; ${approved.snapshotId} (the approved one) is verified` } : {}) } : { ok: false, note: 'the dump cannot be listed any more' }),
  steps: [
    {
      name: 'verify',
      title: 'Restoring and comparing',
      run: only(false, async (ctx) => {
        const report = await verifyProvider(ctx.target).verify!(ctx.facts.snapshotId, {
          signal: ctx.signal,
          onProgress: (p) => ctx.progress({ text: p.message, ...(p.percent !== undefined ? { percent: p.percent } : {}) }),
        });
        // pg_restore killed by shutdown reads as a failed restore: hand the run back instead (the step runs again).
        if (ctx.signal.aborted) throw new Error('interrupted by shutdown');
        ctx.log.info({ snapshotId: report.snapshotId, ok: report.ok, problems: report.problems.length, tables: report.tables.length, durationMs: report.durationMs }, 'backup verify');
        if (!report.ok) throw new DbopsError('provider', failureText(report));
        return { ...report };
      }),
    },
    // Cloud: restore → compare (records the verdict) → delete (always reached) → verdict (fails the run).
    { name: 'scratch-restore', title: 'Restoring to a scratch instance', run: only(true, scratchRestoreStep) },
    { name: 'compare', title: 'Comparing row counts', run: only(true, compareStep) },
    { name: 'scratch-delete', title: 'Deleting the scratch instance', run: only(true, scratchDeleteStep) },
    { name: 'verdict', title: 'Verdict', run: only(true, verdictStep) },
  ],
  leftState: (step, facts, runId) =>
    facts.cloud
      ? cloudVerifyLeftState(step, facts.cloud, runId)
      : "The target's data was only read. The scratch database is dropped also when verification fails; only a worker killed mid-restore can leave one behind (named dbops_verify_…): drop it by hand.",
  // Cloud only: a failed restore or delete can leave the scratch copy; the abort deletes it (ours only).
  abort: async (facts, _outputs, ctx) => (facts.cloud ? abortCloudVerify(facts.cloud, ctx) : { removed: [], kept: ['nothing to remove: a self-hosted verify drops its scratch database itself'] }),
  result: (outputs, facts) => {
    if (facts.cloud) return cloudVerifyResult(outputs, facts.snapshotId, facts.cloud);
    const r = outputs.verify as VerifyReport;
    return {
      headline: `Backup ${r.snapshotId} verified: ${r.tables.length} table${r.tables.length === 1 ? '' : 's'}, row counts match the manifest`,
      facts: [
        { label: 'Dump', value: r.snapshotId, code: true },
        { label: 'Duration', value: formatDuration(r.durationMs / 1000) },
        { label: 'Tables (expected → restored)', value: tableLines(r), code: true },
        { label: 'Scratch database', value: r.scratch ? `${r.scratch} (dropped)` : 'none' },
      ],
    };
  },
});
