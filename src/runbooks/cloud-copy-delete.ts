/**
 * An abort's delete of a cloud copy (a failed restore's new instance, a failed verify's scratch
 * copy). Aborts run in the web process that took the Confirm click, not as a parked run, so this
 * looks again until the engine no longer knows the copy or `withinMs` passes: Aurora needs several
 * looks (its instances first, then the cluster), RDS and Azure one to send the delete. Bounded by
 * the abort's hold on the run, so a second abort can pick up where a dead process stopped.
 */
import type { Provider, RunCopyKind, ScratchDeleteLook } from '../providers/index.js';
import { pollIntervalMs } from './poll-interval.js';
import type { AbortContext } from './runbook.js';

export const ABORT_DELETE_WITHIN_MS = 8 * 60_000;

export async function deleteUntilGone(look: (checkpoint?: string) => Promise<ScratchDeleteLook>, withinMs = ABORT_DELETE_WITHIN_MS): Promise<{ gone: boolean; progress: string }> {
  const end = Date.now() + withinMs;
  let checkpoint: string | undefined;
  for (;;) {
    const l = await look(checkpoint);
    if (l.gone) return { gone: true, progress: l.progress };
    checkpoint = l.checkpoint ?? checkpoint;
    if (Date.now() + pollIntervalMs() > end) return { gone: false, progress: l.progress };
    await new Promise((r) => setTimeout(r, pollIntervalMs()));
  }
}

/**
 * The abort of one cloud copy a run created: removed only while it carries this run's tag and no
 * cutover mark; otherwise said why it is kept. `kind` picks the provider's delete (its own guards
 * refuse anything else again). `label` names it in the report ("the scratch DB instance x").
 */
export async function abortRunCopy(p: Provider, kind: RunCopyKind, name: string, label: string, what: string, ctx: AbortContext): Promise<{ removed: string[]; kept: string[] }> {
  const m = await p.describeManaged!(name);
  if (!m) return { removed: [], kept: [`(${label} does not exist: nothing to remove)`] };
  if (m.restoreRun !== ctx.runId) return { removed: [], kept: [`${what}: it is not this run's`] };
  if (m.swap) return { removed: [], kept: [`${what}: it was part of a cutover (roll it back first)`] };
  if (ctx.dryRun) return { removed: [label], kept: [] };
  const done = await deleteUntilGone((cp) => p.deleteRunCopy!(kind, name, ctx.runId, cp));
  return { removed: [`${label}${done.gone ? '' : ` (delete under way: ${done.progress}; the engine finishes it)`}`], kept: [] };
}
