/**
 * `/db backup verify` on the cloud engines (aws-rds, aws-aurora, azure-flexible): restore the
 * snapshot into a scratch instance/cluster/server named after the run (`dbops-verify-<run>`, tagged
 * with it), count every table there and in the source now, delete the scratch copy, then give the
 * verdict. The verdict comes last on purpose: a failed comparison is recorded, the delete step
 * still runs, and only then does the run fail. No pre-restore snapshot and no cutover: the source
 * is only read.
 *
 * The rule (the source moved on since the snapshot, so counts rarely match exactly):
 *   FAIL  a table of the source missing in the scratch copy; a table empty in the scratch copy but
 *         not in the source; the scratch copy could not be reached or counted.
 *   WARN  any other row-count difference ("the source has N more rows since the snapshot"), and
 *         tables only in the scratch copy (dropped since).
 */
import type { Target } from '../config.js';
import { DbopsError, userMessageOf } from '../errors.js';
import { formatDuration } from '../duration.js';
import { SCRATCH_PREFIX, type Endpoint, type InstanceOpCheckpoint, type InstanceRestoreRequest, type RestoreOverrides, type Snapshot } from '../providers/index.js';
import { openTargetSession } from '../postgres/session.js';
import { tableCounts, type TableCount } from '../postgres/validation.js';
import { abortRunCopy } from './cloud-copy-delete.js';
import { pollIntervalMs } from './poll-interval.js';
import { providerOf } from './providers.js';
import { cloudSource, KIND, restoredUrl, type CloudEngine } from './restore-cloud.js';
import type { AbortContext, AbortReport, Fact, RunResult, StepContext } from './runbook.js';

/** What a cloud verify's plan pins (beside the snapshot id the self-hosted plan has too). */
export interface CloudVerifyFacts {
  engine: CloudEngine;
  /** The target's own instance/cluster/server: only read. */
  source: string;
  /** The snapshot's time: the data the scratch copy holds. */
  restorePoint: string;
  overrides: RestoreOverrides;
}

/** Deterministic from the run, so a retried step, leftState and the abort all name the same copy. */
export const scratchName = (runId: string): string => `${SCRATCH_PREFIX}${runId.replace(/_/g, '-').toLowerCase()}`;

const request = (snapshotId: string, f: CloudVerifyFacts, runId: string): InstanceRestoreRequest => ({ source: { snapshotId }, newName: scratchName(runId), owner: runId, overrides: f.overrides });

/**
 * Request time: the newest available snapshot (or the named one), checked by the engine's restore
 * pre-check (exists, of this source, available; credentials). Creates nothing.
 */
export async function planCloudVerify(target: Target & { engine: CloudEngine }, wanted: string | undefined): Promise<{ snapshot: Snapshot; cloud: CloudVerifyFacts }> {
  const p = providerOf(target);
  const source = cloudSource(target);
  const all = await p.listSnapshots({ type: 'all' });
  const snap = wanted ? all.find((s) => s.id === wanted) : all.find((s) => s.status === 'available');
  if (!snap) {
    throw new DbopsError(
      'not_found',
      wanted ? `No snapshot \`${wanted}\` of ${target.name}. See \`/db snapshots ${target.name}\`.` : `${target.name} has no available snapshot yet. Take one with \`/db snapshot ${target.name}\`.`,
    );
  }
  if (snap.status !== 'available') throw new DbopsError('bad_input', `Snapshot \`${snap.id}\` of ${target.name} is ${snap.engineStatus ?? snap.status}, not available: verify it once it is.`);
  const cloud: CloudVerifyFacts = { engine: target.engine, source, restorePoint: snap.createdAt?.toISOString() ?? '', overrides: { ...(target.restore ?? {}) } as RestoreOverrides };
  // The scratch name is only known once the run exists: a placeholder of the same shape checks the rest now.
  const check = await p.checkInstanceRestore!(request(snap.id, cloud, 'r_000000000000'));
  if (check.problems.length) throw new DbopsError('bad_input', `Backup verify refused, nothing was created: ${check.problems.join(' ')}`);
  return { snapshot: snap, cloud: { ...cloud, restorePoint: check.restorePoint?.toISOString() ?? cloud.restorePoint } };
}

type Ctx = StepContext<unknown, { snapshotId: string; cloud?: CloudVerifyFacts }>;

export interface ScratchRestoreOutput {
  scratch: string;
  durationMs: number;
  alreadyStarted: boolean;
  /** Where the scratch copy answers (state DB only; never shown in Slack). */
  endpoint?: Endpoint;
  [k: string]: unknown;
}

/** Start once (checkpointed), then one look per attempt; the run is parked between looks. */
export async function scratchRestoreStep(ctx: Ctx): Promise<ScratchRestoreOutput> {
  const f = ctx.facts.cloud!;
  const p = providerOf(ctx.target);
  const scratch = scratchName(ctx.runId);
  let op = ctx.checkpoint.verifyOp as InstanceOpCheckpoint | undefined;
  const startedAt = (ctx.checkpoint.verifyStartedAt as number | undefined) ?? Date.now();
  if (!op) {
    ctx.progress({ text: `restoring ${ctx.facts.snapshotId} into the scratch ${KIND[f.engine]} ${scratch}` });
    // Idempotent: a scratch copy of this run found means an earlier attempt started it.
    op = await p.startInstanceRestore!(request(ctx.facts.snapshotId, f, ctx.runId));
    await ctx.saveCheckpoint({ verifyOp: op, verifyStartedAt: startedAt });
  }
  const look = await p.pollInstanceOp!(op);
  await ctx.saveCheckpoint({ verifyOp: look.checkpoint, verifyStartedAt: startedAt });
  if (!look.done) return ctx.pollAgain(pollIntervalMs(), { text: `scratch ${KIND[f.engine]} ${scratch}: ${look.progress.message}` });
  return { scratch, durationMs: Date.now() - startedAt, alreadyStarted: op.alreadyStarted === true, ...(look.endpoint ? { endpoint: look.endpoint } : {}) };
}

export interface CompareRow {
  table: string;
  scratch?: number;
  source?: number;
  sourceExact?: boolean;
}

export interface CompareOutput {
  ok: boolean;
  /** The source target's name (the result names it). */
  target: string;
  problems: string[];
  warnings: string[];
  tables: CompareRow[];
  [k: string]: unknown;
}

/** The rule in the file comment, over the two sides' counts. Pure: tested without an engine. */
export function judge(scratch: TableCount[], source: TableCount[], sourceName: string): CompareOutput {
  const sc = new Map(scratch.map((t) => [t.table, t.rows]));
  const src = new Map(source.map((t) => [t.table, t]));
  const tables: CompareRow[] = [...new Set([...sc.keys(), ...src.keys()])].sort().map((t) => ({
    table: t,
    ...(sc.has(t) ? { scratch: sc.get(t)! } : {}),
    ...(src.has(t) ? { source: src.get(t)!.rows, sourceExact: src.get(t)!.exact } : {}),
  }));
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const t of tables) {
    const n = (x: number) => `${t.sourceExact === false ? '~' : ''}${x}`;
    if (t.scratch === undefined) problems.push(`${t.table}: missing in the restored copy (${sourceName} has it, ${n(t.source!)} rows)`);
    else if (t.source === undefined) warnings.push(`${t.table}: only in the restored copy (${t.scratch} rows; dropped from ${sourceName} since the snapshot?)`);
    else if (t.scratch === 0 && t.source > 0) problems.push(`${t.table}: empty in the restored copy, ${n(t.source)} rows in ${sourceName}`);
    else if (t.source > t.scratch) warnings.push(`${t.table}: ${sourceName} has ${n(t.source - t.scratch)} more rows since the snapshot (${t.scratch} → ${n(t.source)})`);
    else if (t.source < t.scratch) warnings.push(`${t.table}: ${sourceName} has ${n(t.scratch - t.source)} fewer rows than the snapshot (${t.scratch} → ${n(t.source)})`);
  }
  return { ok: problems.length === 0, target: sourceName, problems, warnings, tables };
}

/**
 * Counts both sides and records the verdict; never throws for a bad backup or an unreachable
 * scratch copy (that is a FAIL verdict), so the delete step after it always runs.
 */
export async function compareStep(ctx: Ctx): Promise<CompareOutput> {
  const f = ctx.facts.cloud!;
  const r = ctx.outputs['scratch-restore'] as ScratchRestoreOutput;
  ctx.progress({ text: `counting rows in the scratch ${KIND[f.engine]} ${r.scratch} and in ${ctx.target.name}` });
  let scratch: TableCount[];
  try {
    const c = await openTargetSession(restoredUrl(ctx.target, r.scratch, r.endpoint), { statementTimeoutMs: 0 }, `the scratch ${KIND[f.engine]} ${r.scratch}`);
    try {
      // The scratch copy is ours and idle: count every table exactly.
      scratch = await tableCounts(c, Number.POSITIVE_INFINITY);
    } finally {
      await c.end().catch(() => undefined);
    }
  } catch (err) {
    return { ok: false, target: ctx.target.name, problems: [`could not count the restored copy: ${userMessageOf(err)}`], warnings: [], tables: [] };
  }
  // The source is production: large tables get the planner's estimate (marked ~), as /db restore does.
  const source = await ctx.session(async (s) => {
    await s.query('SET statement_timeout = 0');
    return tableCounts(s);
  });
  const v = judge(scratch, source, ctx.target.name);
  ctx.log.info({ scratch: r.scratch, ok: v.ok, problems: v.problems.length, warnings: v.warnings.length, tables: v.tables.length }, 'cloud backup verify compared');
  return v;
}

/** Runs after the compare whatever its verdict: one look per attempt until the engine no longer knows the copy. */
export async function scratchDeleteStep(ctx: Ctx): Promise<Record<string, unknown>> {
  const f = ctx.facts.cloud!;
  const scratch = scratchName(ctx.runId);
  const look = await providerOf(ctx.target).deleteRunCopy!('scratch', scratch, ctx.runId, ctx.checkpoint.deleteOp as string | undefined);
  if (look.gone) return { scratch, deleted: true };
  if (look.checkpoint) await ctx.saveCheckpoint({ deleteOp: look.checkpoint });
  return ctx.pollAgain(pollIntervalMs(), { text: `scratch ${KIND[f.engine]} ${scratch}: ${look.progress}` });
}

const SHOWN = 8;
const listed = (xs: string[]) => [...xs.slice(0, SHOWN).map((x) => `• ${x}`), ...(xs.length > SHOWN ? [`• … and ${xs.length - SHOWN} more`] : [])];

export function cloudFailureText(snapshotId: string, v: CompareOutput, scratch: string): string {
  const present = v.tables.filter((t) => t.scratch !== undefined && t.source !== undefined).length;
  return [
    `Backup ${snapshotId} FAILED verification (${v.problems.length} problem${v.problems.length === 1 ? '' : 's'}):`,
    ...listed(v.problems),
    ...(v.warnings.length ? ['Also (not failures):', ...listed(v.warnings)] : []),
    `${v.tables.length ? `${present} of ${v.tables.length} tables are in both. ` : ''}The scratch copy ${scratch} was deleted.`,
  ].join('\n');
}

/** The last step: fails the run when the compare failed, once the scratch copy is gone. */
export async function verdictStep(ctx: Ctx): Promise<Record<string, unknown>> {
  const v = ctx.outputs.compare as CompareOutput;
  if (!v.ok) throw new DbopsError('provider', cloudFailureText(ctx.facts.snapshotId, v, scratchName(ctx.runId)));
  return { ok: true };
}

export function cloudVerifyLeftState(step: string, f: CloudVerifyFacts, runId: string): string {
  const k = KIND[f.engine];
  const name = scratchName(runId);
  const src = `${f.source} was only read.`;
  if (step === 'verdict') return `The scratch ${k} was deleted. ${src}`;
  if (step === 'scratch-delete') return `The scratch ${k} ${name} may still exist (its delete did not finish): \`/db run ${runId} abort\` deletes it. ${src}`;
  return `The scratch ${k} ${name} may exist (being created, or failed): \`/db run ${runId} abort\` deletes it; nothing else was created. ${src}`;
}

const ROWS_SHOWN = 10;

export function cloudVerifyResult(outputs: Record<string, unknown>, snapshotId: string, f: CloudVerifyFacts): RunResult {
  const r = outputs['scratch-restore'] as ScratchRestoreOutput;
  const v = outputs.compare as CompareOutput;
  const target = v.target;
  const k = KIND[f.engine];
  const rows = v.tables.slice(0, ROWS_SHOWN).map((t) => `${t.table}  ${t.scratch ?? 'missing'} → ${t.source === undefined ? 'missing' : `${t.sourceExact === false ? '~' : ''}${t.source}`}`);
  if (v.tables.length > ROWS_SHOWN) rows.push(`… and ${v.tables.length - ROWS_SHOWN} more`);
  const facts: Fact[] = [
    { label: 'Snapshot', value: snapshotId, code: true },
    { label: 'Restore point', value: f.restorePoint || 'unknown' },
    { label: `Tables (snapshot → ${target} now)`, value: rows.join('\n') || '(no tables)', code: true },
    { label: 'Differences (not failures: the source moved on)', value: v.warnings.length ? listed(v.warnings).join('\n') : 'none' },
    { label: `Scratch ${k}`, value: `${r.scratch} (deleted)` },
    { label: 'Restore time', value: formatDuration(r.durationMs / 1000) },
  ];
  return { headline: `Backup ${snapshotId} verified on a scratch ${k}: all ${v.tables.filter((t) => t.source !== undefined).length} tables of ${target} present and not empty`, facts };
}

/** `/db run <id> abort` of a failed cloud verify: deletes this run's scratch copy (only if tagged as ours). */
export async function abortCloudVerify(f: CloudVerifyFacts, ctx: AbortContext): Promise<AbortReport> {
  const scratch = scratchName(ctx.runId);
  const k = KIND[f.engine];
  const kept = [`${ctx.target.name}'s ${k} ${f.source} (only read)`, 'the snapshot'];
  const r = await abortRunCopy(providerOf(ctx.target), 'scratch', scratch, `the scratch ${k} ${scratch}`, `the ${k} ${scratch}`, ctx);
  return { removed: r.removed, kept: [...kept, ...r.kept] };
}
