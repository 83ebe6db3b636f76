/**
 * `/db restore` on the cloud engines (aws-rds, aws-aurora, azure-flexible): the plan, the steps'
 * engine branches and the result. The restore goes into a NEW instance/cluster/server, started once
 * and waited for with pollAgain (the run is parked, no worker held); validation connects to it at its
 * API endpoint with the target's credentials, or through the target's `instanceUrl` template.
 */
import { createHash } from 'node:crypto';
import type { Target } from '../config.js';
import { DbopsError } from '../errors.js';
import { registerSecret } from '../log.js';
import { requireCapability, type Endpoint, type InstanceOpCheckpoint, type InstanceRestoreRequest, type Provider, type RestoreOverrides } from '../providers/index.js';
import { awsNameProblem } from '../providers/restore-aws.js';
import { azureNameProblem } from '../providers/restore-azure.js';
import { databaseOf } from '../postgres/rename.js';
import { openTargetSession } from '../postgres/session.js';
import { columnsByTable, diffColumns, freshness, schemaVersions, tableCounts, type FreshnessResult, type SchemaDiff, type SchemaVersion } from '../postgres/validation.js';
import { formatDuration } from '../duration.js';
import { pollIntervalMs } from './poll-interval.js';
import { checkedProvider, providerOf } from './providers.js';
import type { Fact, Plan, RunResult, StepContext } from './runbook.js';

export type CloudEngine = 'aws-rds' | 'aws-aurora' | 'azure-flexible';

export interface CloudRestoreFacts {
  engine: CloudEngine;
  /** The target's own instance/cluster/server (the source, untouched). */
  source: string;
  snapshotId?: string;
  toTime?: string;
  /** The data's point in time (freshness columns must not be later). */
  restorePoint: string;
  newName: string;
  overrides: RestoreOverrides;
  freshness: string[];
}

export interface CloudRestoreArgs {
  snapshot?: string | undefined;
  toTime?: string | undefined;
  as?: string | undefined;
}

export const isCloud = (t: Target): t is Target & { engine: CloudEngine } => t.engine !== 'self-hosted';

export const KIND: Record<CloudEngine, string> = { 'aws-rds': 'DB instance', 'aws-aurora': 'DB cluster', 'azure-flexible': 'flexible server' };

export function cloudSource(t: Target): string {
  const id = t.engine === 'aws-rds' ? t.aws?.instance : t.engine === 'aws-aurora' ? t.aws?.cluster : t.azure?.server;
  if (!id) throw new DbopsError('config', `Target ${t.name} (${t.engine}) has no ${t.engine === 'azure-flexible' ? 'azure.server' : t.engine === 'aws-rds' ? 'aws.instance' : 'aws.cluster'} in the targets file.`);
  return id;
}

/** Deterministic from the request (the re-plan at approval hashes the same): `<source>-r-<8 hex of the source>`. */
export function defaultCloudName(engine: CloudEngine, source: string, label: string): string {
  const max = engine === 'aws-aurora' ? 61 : 63;
  const base = (engine === 'azure-flexible' ? source.toLowerCase() : source).slice(0, max - 11).replace(/-+$/, '');
  return `${base}-r-${createHash('sha256').update(label).digest('hex').slice(0, 8)}`;
}

const overridesOf = (t: Target): RestoreOverrides => ({ ...(t.restore ?? {}) }) as RestoreOverrides;

function requestOf(f: CloudRestoreFacts, owner: string): InstanceRestoreRequest {
  return { source: f.snapshotId !== undefined ? { snapshotId: f.snapshotId } : { toTime: f.toTime! }, newName: f.newName, owner, overrides: f.overrides };
}

const label = (f: CloudRestoreFacts) => (f.snapshotId !== undefined ? `snapshot ${f.snapshotId}` : `point in time ${f.toTime}`);

function restoreApi(engine: CloudEngine, pitr: boolean): string {
  if (engine === 'aws-rds') return pitr ? 'RestoreDBInstanceToPointInTime' : 'RestoreDBInstanceFromDBSnapshot';
  if (engine === 'aws-aurora') return `${pitr ? 'RestoreDBClusterToPointInTime' : 'RestoreDBClusterFromSnapshot'}, then CreateDBInstance into the new cluster`;
  return 'servers.beginCreateOrUpdate (createMode PointInTimeRestore)';
}

/** Request time: cheap pre-checks, so a refusal creates nothing and needs no approval. */
/** `runId`: the run planned again (approval, resume), whose own new instance is not "a name taken". */
export async function planCloudRestore(target: Target & { engine: CloudEngine }, a: CloudRestoreArgs, verb: string, runId?: string): Promise<Plan<CloudRestoreFacts>> {
  const provider = checkedProvider(target, 'restore', verb);
  if (a.toTime !== undefined) requireCapability(target.engine, 'pitr', `${verb} --to-time`);
  if (!provider.checkInstanceRestore) throw new DbopsError('provider', `\`${verb}\` is not on ${target.engine} yet.`);
  const source = cloudSource(target);
  const engine = target.engine;
  const pitr = a.snapshot === undefined;
  const toTime = pitr ? new Date(a.toTime!).toISOString().replace(/\.000Z$/, 'Z') : undefined;
  const newName = a.as ?? defaultCloudName(engine, source, pitr ? `time ${toTime}` : `snapshot ${a.snapshot}`);
  const nameProblem = engine === 'azure-flexible' ? azureNameProblem(newName) : awsNameProblem(newName, KIND[engine], engine === 'aws-aurora' ? 61 : 63);
  if (nameProblem) throw new DbopsError('bad_input', `Restore refused, nothing was created: ${nameProblem}`);
  const base = { engine, source, ...(pitr ? { toTime: toTime! } : { snapshotId: a.snapshot! }), newName, overrides: overridesOf(target), freshness: [...(target.freshness ?? [])] };
  const check = await provider.checkInstanceRestore(requestOf({ ...base, restorePoint: '' }, runId ?? 'request'));
  if (check.problems.length || !check.restorePoint) throw new DbopsError('bad_input', `Restore refused, nothing was created: ${check.problems.join(' ') || 'the source has no time.'}`);
  const facts: CloudRestoreFacts = { ...base, restorePoint: check.restorePoint.toISOString() };
  const kind = KIND[engine];
  const ov = Object.keys(facts.overrides).length ? ` (overridden by the targets file: ${Object.keys(facts.overrides).join(', ')})` : '';
  return {
    summary: `Restore ${label(facts)} of ${target.name} into the new ${kind} ${newName}`,
    steps: [
      `Pre-checks: ${pitr ? `${toTime} inside the restorable window` : `snapshot ${a.snapshot} available`}, ${newName} free, credentials`,
      `Pre-restore snapshot of ${source}`,
      `${restoreApi(engine, pitr)} into ${newName}${engine === 'azure-flexible' ? '' : `, with ${source}'s subnet group, security groups and parameter group${ov}`}; wait until available`,
      `Validate: connect to ${newName}; row counts vs ${target.name}, schema version, tables/columns, freshness`,
      engine === 'azure-flexible' ? 'Report the connection-string change to cut over (flexible servers cannot be renamed)' : 'Offer the cutover (a separate destructive request: a rename swap)',
    ],
    facts,
    display: [
      { label: pitr ? 'Point in time' : 'Snapshot', value: pitr ? toTime! : a.snapshot!, code: !pitr },
      { label: 'Restore point', value: facts.restorePoint },
      { label: `New ${kind}`, value: newName, code: true },
      { label: `Source ${kind} (untouched)`, value: source, code: true },
    ],
    impact: `creates a NEW ${kind} ${newName} (billed like the source until deleted); ${target.name} is untouched until cutover. The pre-restore snapshot adds a little I/O on ${source}.`,
    // The engines take tens of minutes for small databases, more for large ones.
    etaSeconds: engine === 'azure-flexible' ? 2400 : 1800,
  };
}

type Ctx = StepContext<unknown, { cloud?: CloudRestoreFacts }>;
const factsOf = (ctx: Ctx) => ctx.facts.cloud!;
const provider = (ctx: Ctx): Provider => providerOf(ctx.target);

export async function cloudPrecheck(ctx: Ctx): Promise<Record<string, unknown>> {
  const f = factsOf(ctx);
  ctx.progress({ text: `checking ${label(f)} and the name ${f.newName}` });
  const check = await provider(ctx).checkInstanceRestore!(requestOf(f, ctx.runId));
  if (check.problems.length) throw new DbopsError('bad_input', `Restore refused at pre-check, nothing was created: ${check.problems.join(' ')}`);
  return { restorePoint: check.restorePoint?.toISOString() ?? f.restorePoint, alreadyOurs: check.alreadyOurs === true, expected: [] };
}

interface RestoreOutput {
  newName: string;
  alreadyRestored: boolean;
  durationMs: number;
  /** Where the restored resource answers (kept in the state DB for validation; never shown in Slack). */
  endpoint?: Endpoint;
  [k: string]: unknown;
}

/** Start once (checkpointed), then one look per attempt; parked between looks. */
export async function cloudRestoreStep(ctx: Ctx): Promise<RestoreOutput> {
  const f = factsOf(ctx);
  const p = provider(ctx);
  let op = ctx.checkpoint.op as InstanceOpCheckpoint | undefined;
  const startedAt = (ctx.checkpoint.startedAt as number | undefined) ?? Date.now();
  if (!op) {
    op = await p.startInstanceRestore!(requestOf(f, ctx.runId));
    await ctx.saveCheckpoint({ op, startedAt });
  }
  const look = await p.pollInstanceOp!(op);
  await ctx.saveCheckpoint({ op: look.checkpoint, startedAt });
  if (!look.done) return ctx.pollAgain(pollIntervalMs(), { text: `${KIND[f.engine]} ${f.newName}: ${look.progress.message}` });
  return { newName: f.newName, alreadyRestored: op.alreadyStarted === true, durationMs: Date.now() - startedAt, ...(look.endpoint ? { endpoint: look.endpoint } : {}) };
}

/**
 * The restored resource's connection URL: the target's `instanceUrl` template with {instance},
 * {host} and {port} filled in, else the target's own URL (user, password, database, options) with
 * the API endpoint's host and port. Registered as a secret: it carries the password.
 */
export function restoredUrl(target: Target, instance: string, endpoint: Endpoint | undefined): string {
  let url: string;
  if (target.instanceUrl) {
    url = target.instanceUrl
      .replaceAll('{instance}', encodeURIComponent(instance))
      .replaceAll('{host}', endpoint?.host ?? instance)
      .replaceAll('{port}', String(endpoint?.port ?? 5432));
  } else {
    if (!endpoint) throw new DbopsError('provider', `The engine reports no endpoint for ${instance}; set instanceUrl on the target to reach restored instances.`);
    const u = new URL(target.url);
    u.hostname = endpoint.host;
    u.port = String(endpoint.port);
    url = u.toString();
  }
  registerSecret(url);
  return url;
}

export interface CloudValidateOutput {
  runId: string;
  target: string;
  tables: Array<{ table: string; restored?: number; source?: number; sourceExact?: boolean }>;
  sourceDiffers: string[];
  schema: { restored: SchemaVersion[]; source: SchemaVersion[] };
  diff: SchemaDiff;
  freshness: FreshnessResult[];
  [k: string]: unknown;
}

export async function cloudValidate(ctx: Ctx): Promise<CloudValidateOutput> {
  const f = factsOf(ctx);
  const r = ctx.outputs.restore as RestoreOutput;
  ctx.progress({ text: `connecting to ${f.newName}; counting rows there and in ${ctx.target.name}` });
  const c = await openTargetSession(restoredUrl(ctx.target, f.newName, r.endpoint), { statementTimeoutMs: 0 }, `the restored ${KIND[f.engine]} ${f.newName}`);
  let restored;
  try {
    restored = {
      // The restored copy is ours and idle: count every table exactly.
      counts: await tableCounts(c, Number.POSITIVE_INFINITY),
      schema: await schemaVersions(c),
      cols: await columnsByTable(c),
      fresh: await freshness(c, f.freshness, new Date(f.restorePoint)),
    };
  } finally {
    await c.end().catch(() => undefined);
  }
  const source = await ctx.session(async (s) => {
    await s.query('SET statement_timeout = 0');
    return { counts: await tableCounts(s), schema: await schemaVersions(s), cols: await columnsByTable(s) };
  });
  const rest = new Map(restored.counts.map((t) => [t.table, t.rows]));
  const src = new Map(source.counts.map((t) => [t.table, t]));
  const tables = [...new Set([...rest.keys(), ...src.keys()])].sort().map((t) => ({
    table: t,
    ...(rest.has(t) ? { restored: rest.get(t)! } : {}),
    ...(src.has(t) ? { source: src.get(t)!.rows, sourceExact: src.get(t)!.exact } : {}),
  }));
  const sourceDiffers = tables.filter((t) => t.restored !== t.source).map((t) => `${t.table}: restored ${t.restored ?? 'missing'}, ${ctx.target.name} now ${t.source === undefined ? 'missing' : `${t.sourceExact ? '' : '~'}${t.source}`}`);
  return { runId: ctx.runId, target: ctx.target.name, tables, sourceDiffers, schema: { restored: restored.schema, source: source.schema }, diff: diffColumns(source.cols, restored.cols), freshness: restored.fresh };
}

export function cloudLeftState(step: string, f: CloudRestoreFacts, runId: string): string {
  const k = KIND[f.engine];
  switch (step) {
    case 'precheck':
      return `Nothing was created; ${f.newName} does not exist. ${f.source} was not touched.`;
    case 'pre-restore-snapshot':
      return `The pre-restore snapshot may still be being made by the engine (it finishes by itself). No ${k} was created. ${f.source} was not touched.`;
    case 'restore':
      return `The restored ${k} ${f.newName} may exist (being created, or stopped in a failed state: see the engine's events), not cut over. The pre-restore snapshot exists. ${f.source} was not touched. \`/db run ${runId} resume\` goes on with it (an earlier attempt's ${k} is found by its tag, not made twice); \`/db run ${runId} abort\` deletes it.`;
    default:
      return `The restored ${k} ${f.newName} exists, not cut over; its validation did not finish. ${f.source} was not touched. \`/db run ${runId} resume\` validates again; \`/db run ${runId} abort\` deletes ${f.newName}.`;
  }
}

export function cloudResult(outputs: Record<string, unknown>, f: CloudRestoreFacts): RunResult {
  const v = outputs.validate as CloudValidateOutput;
  const r = outputs.restore as RestoreOutput;
  const pre = (outputs['pre-restore-snapshot'] as { snapshotId: string }).snapshotId;
  const k = KIND[f.engine];
  const ver = (xs: SchemaVersion[]) => xs.map((x) => `${x.tool} ${x.version ?? '(none)'}${x.dirty ? ' DIRTY' : ''}`).join(', ') || 'no migration table';
  const diff = [...v.diff.onlyInSource.map((t) => `only in source: ${t}`), ...v.diff.onlyInRestored.map((t) => `only in restored: ${t}`), ...v.diff.changed];
  const fresh = v.freshness.map((x) => `${x.column}: ${x.ok ? 'ok' : 'PROBLEM'} (${x.problem ?? `max ${x.max ?? 'empty'}`})`);
  const problems = v.freshness.filter((x) => !x.ok).length + v.schema.restored.filter((x) => x.dirty).length;
  const next =
    f.engine === 'azure-flexible'
      ? { label: 'Cut over (flexible servers cannot be renamed)', value: `/db cutover ${v.target} ${v.runId}  → reports the connection-string change to make`, code: true }
      : { label: 'Cut over (a separate destructive request: rename swap)', value: `/db cutover ${v.target} ${v.runId}`, code: true };
  const facts: Fact[] = [
    { label: `New ${k}`, value: f.newName, code: true },
    { label: 'Restored from', value: `${label(f)} (restore point ${f.restorePoint})` },
    { label: 'Rows vs the source now', value: v.sourceDiffers.length ? v.sourceDiffers.slice(0, 10).join('\n') : `no table differs in row count (${v.tables.length} tables)` },
    { label: 'Schema version', value: `restored: ${ver(v.schema.restored)}\nsource: ${ver(v.schema.source)}` },
    { label: 'Tables/columns vs source', value: diff.length ? diff.slice(0, 10).join('\n') : 'same' },
    ...(fresh.length ? [{ label: 'Freshness', value: fresh.join('\n') }] : []),
    { label: 'Pre-restore snapshot', value: pre, code: true },
    { label: 'Restore time', value: r.alreadyRestored ? `started by an earlier attempt of this run; ${formatDuration(r.durationMs / 1000)} since` : formatDuration(r.durationMs / 1000) },
    next,
  ];
  const warn = problems ? `:warning: validation found ${problems} problem(s), check them before any cutover. ` : '';
  return { headline: `${warn}Restored ${label(f)} into the new ${k} ${f.newName}; ${v.target} is untouched until cutover`, facts };
}

/** What restore.ts's facts carry besides `cloud` (its self-hosted fields, filled for display and the hash). */
export function cloudBaseFacts(target: Target, f: CloudRestoreFacts): { snapshotId: string; restorePoint: string; sourceDatabase: string; newDatabase: string; freshness: string[] } {
  return { snapshotId: f.snapshotId ?? `pitr ${f.toTime}`, restorePoint: f.restorePoint, sourceDatabase: databaseOf(target.url), newDatabase: f.newName, freshness: f.freshness };
}
