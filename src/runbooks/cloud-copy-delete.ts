/**
 * An abort's delete of a cloud copy (a failed restore's new instance, a failed verify's scratch
 * copy). Aborts run in the web process that took the Confirm click, not as a parked run, so this
 * looks again until the engine no longer knows the copy or `withinMs` passes: Aurora needs several
 * looks (its instances first, then the cluster), RDS and Azure one to send the delete. Bounded by
 * the abort's hold on the run, so a second abort can pick up where a dead process stopped.
 */
import type { ScratchDeleteLook } from '../providers/index.js';
import { pollIntervalMs } from './poll-interval.js';

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
