/**
 * `/db cutover` and `/db rollback` on the cloud engines. AWS: a rename swap of identifiers (the
 * original → `<id>-old-<yyyymmdd>`, the restored → the original id), each rename waited on its NEW
 * identifier — the old one is gone once AWS applies it, so a wait on it would never end. AWS moves the
 * endpoint's DNS name with the identifier, so applications reach the restored instance at the same
 * name. Azure: a flexible server cannot be renamed; the cutover says which connection-string change
 * to make instead, and changes nothing.
 */
import type { Target } from '../config.js';
import { DbopsError } from '../errors.js';
import type { InstanceOpCheckpoint, ManagedInstance, Provider } from '../providers/index.js';
import { cloudSource, KIND, type CloudEngine } from './restore-cloud.js';
import { pollIntervalMs } from './poll-interval.js';
import { checkedProvider, providerOf } from './providers.js';
import type { PlannedRename, SwapFacts } from './db-swap.js';
import type { StepContext } from './runbook.js';

export interface CloudSwapFacts extends SwapFacts {
  original: string;
  restored: string;
  old: string;
  cloud: { engine: CloudEngine };
}

const yyyymmdd = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');

/** `<id>-old-<yyyymmdd>`, shortened so it stays a valid identifier (63). */
export function oldAwsName(id: string, now: Date): string {
  return `${id.slice(0, 63 - 13).replace(/-+$/, '')}-old-${yyyymmdd(now)}`;
}

const rename = (from: string, to: string, role: 'old' | 'live', was: string): PlannedRename => ({ from, to, mark: { role, was }, before: null });

async function describe(p: Provider, name: string): Promise<ManagedInstance | undefined> {
  return p.describeManaged!(name);
}

/** Azure: nothing to swap; the answer is the change to make (the servers' host names are what the applications need). */
async function azureCutoverAnswer(target: Target, p: Provider, restoreRun: string): Promise<never> {
  const source = cloudSource(target);
  const [restored] = await p.findManaged!({ restoreRun });
  if (!restored) throw new DbopsError('not_found', `No server restored by ${restoreRun} in ${target.name}'s resource group (never finished, deleted, or another target's). See \`/db run ${restoreRun}\`.`);
  const src = await describe(p, source);
  const from = src?.endpoint?.host ?? `${source}.postgres.database.azure.com`;
  const to = restored.endpoint?.host ?? `${restored.name}.postgres.database.azure.com`;
  throw new DbopsError(
    'provider',
    `Flexible servers cannot be renamed, so dbops swaps nothing on azure-flexible: cut over by changing the applications' connection string. ` +
      `Restore ${restoreRun} is the server ${restored.name} (${restored.status}): change the host from ${from} to ${to} (port 5432); user, password and database stay the same. ` +
      `${source} is untouched: keep it until the restored server is confirmed.`,
  );
}

export async function planCloudCutover(target: Target & { engine: CloudEngine }, restoreRun: string): Promise<CloudSwapFacts> {
  const p = checkedProvider(target, 'restore', '/db cutover');
  if (target.engine === 'azure-flexible') return azureCutoverAnswer(target, p, restoreRun);
  const original = cloudSource(target);
  const k = KIND[target.engine];
  const found = await p.findManaged!({ restoreRun });
  const restored = found[0];
  if (!restored) throw new DbopsError('not_found', `No ${k} restored by ${restoreRun} (never finished, deleted, or another target's). See \`/db run ${restoreRun}\`.`);
  if (restored.name === original) throw new DbopsError('conflict', `Restore ${restoreRun} has already been cut over: it is ${original} now. To undo, \`/db rollback ${target.name}\` with the cutover's run id.`);
  if (restored.status !== 'available') throw new DbopsError('conflict', `The restored ${k} ${restored.name} is ${restored.status}, not available. Wait for it, or see \`/db run ${restoreRun}\`.`);
  if (!(await describe(p, original))) throw new DbopsError('not_found', `${target.name}'s ${k} ${original} does not exist; nothing to cut over.`);
  const old = oldAwsName(original, new Date());
  // AWS would refuse the rename (moto would silently replace the other one): refuse before anything moves.
  if (await describe(p, old)) throw new DbopsError('conflict', `A ${k} named ${old} already exists (an earlier cutover today?). Rename or delete it first; nothing was changed.`);
  return { original, restored: restored.name, old, cloud: { engine: target.engine }, sessions: [], renames: [rename(original, old, 'old', original), rename(restored.name, original, 'live', restored.name)] };
}

export async function planCloudRollback(target: Target & { engine: CloudEngine }, cutoverRun: string): Promise<CloudSwapFacts> {
  const p = checkedProvider(target, 'rename', '/db rollback');
  const original = cloudSource(target);
  const k = KIND[target.engine];
  const marked = await p.findManaged!({ swapRun: cutoverRun });
  const live = marked.find((m) => m.swap?.role === 'live');
  const old = marked.find((m) => m.swap?.role === 'old');
  if (!live || !old) throw new DbopsError('not_found', `No cutover ${cutoverRun} to reverse for ${target.name} (never done, already rolled back, or renamed by hand). See \`/db run ${cutoverRun}\`.`);
  if (live.name !== original || old.swap!.was !== original) throw new DbopsError('conflict', `Cutover ${cutoverRun} was not of ${target.name}'s ${k} ${original}; nothing was changed.`);
  const back = live.swap!.was;
  if (await describe(p, back)) throw new DbopsError('conflict', `A ${k} named ${back} exists again, so the restored one cannot get its name back. Rename or delete it first; nothing was changed.`);
  return { original, restored: back, old: old.name, cloud: { engine: target.engine }, sessions: [], renames: [rename(original, back, 'old', original), rename(old.name, original, 'live', old.name)] };
}

export interface CloudSwapOutput {
  renamed: Array<{ from: string; to: string }>;
  alreadyDone: number;
  [k: string]: unknown;
}

/**
 * The renames one after the other, each waited on its new identifier with pollAgain (parked between
 * looks). Resumable: the checkpoint holds the index and the rename in flight, and a rename whose
 * destination already carries this run's mark counts as done. If a later rename cannot start, the
 * earlier ones are started back, so the target's identifier is not left missing.
 */
export async function runCloudSwap(ctx: StepContext<unknown, CloudSwapFacts>): Promise<CloudSwapOutput> {
  const p = providerOf(ctx.target);
  const rs = ctx.facts.renames;
  let i = (ctx.checkpoint.index as number | undefined) ?? 0;
  let op = (ctx.checkpoint.op as InstanceOpCheckpoint | null | undefined) ?? undefined;
  let alreadyDone = (ctx.checkpoint.alreadyDone as number | undefined) ?? 0;
  while (i < rs.length) {
    const r = rs[i]!;
    if (!op) {
      try {
        op = await p.startRename!(r.from, r.to, { run: ctx.runId, role: r.mark.role, was: r.mark.was });
      } catch (err) {
        if (i > 0) await undo(p, rs.slice(0, i), ctx.runId);
        throw err;
      }
      if (op.alreadyStarted) alreadyDone++;
      await ctx.saveCheckpoint({ index: i, op, alreadyDone });
    }
    const look = await p.pollInstanceOp!(op);
    if (!look.done) {
      await ctx.saveCheckpoint({ index: i, op: look.checkpoint, alreadyDone });
      return ctx.pollAgain(pollIntervalMs(), { text: `rename ${i + 1} of ${rs.length}: ${r.from} → ${r.to}: ${look.progress.message}` });
    }
    ctx.progress({ text: `renamed ${r.from} → ${r.to}` });
    i++;
    op = undefined;
    await ctx.saveCheckpoint({ index: i, op: null, alreadyDone });
  }
  return { renamed: rs.map((r) => ({ from: r.from, to: r.to })), alreadyDone, runId: ctx.runId, target: ctx.target.name };
}

/** Starts the reverse of renames already done (last first); AWS finishes them by itself. */
async function undo(p: Provider, done: PlannedRename[], run: string): Promise<void> {
  for (const r of [...done].reverse()) await p.startRename!(r.to, r.from, { run: `${run}-undo`, role: r.mark.role === 'old' ? 'live' : 'old', was: r.to }).catch(() => undefined);
}

export function cloudSwapLeftState(f: CloudSwapFacts): string {
  return `If the first rename (${f.renames[0]!.from} → ${f.renames[0]!.to}) had not been applied, nothing was renamed. If the second could not start, the first was started back (AWS finishes it by itself). If a rename was in flight when the run stopped, AWS completes it: check the ${KIND[f.cloud.engine]}s ${f.renames.map((r) => r.to).join(' and ')} in the RDS console before retrying.`;
}
