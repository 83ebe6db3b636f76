/**
 * The second half of the replay guard (http-edge.ts): the edge refuses a replay this replica has
 * seen before Bolt runs, and starts the cross-replica check (Redis SET NX) without holding the ack
 * for it. Every handler that acts awaits that verdict right after ack(): a signed request another
 * replica handled first is then dropped here, having changed nothing and answered nothing more.
 * Answers given in the ack itself (help, targets, input errors) are pure, so a replay of them is moot.
 */
import type { Logger } from '../log.js';
import { REPLAY_VERDICT } from '../replay-guard.js';

export async function replayedElsewhere(context: Record<string, unknown>, log: Logger): Promise<boolean> {
  const check = context[REPLAY_VERDICT] as (() => Promise<boolean>) | undefined;
  if (!check || (await check())) return false;
  log.warn('replayed signed request ignored (another replica handled it first)');
  return true;
}
