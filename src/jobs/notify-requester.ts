import { esc } from '../slack/blocks.js';
import { infoMessage } from '../slack/messages.js';
import type { RunRow } from '../store/runs.js';
import type { RunDeps } from './deps.js';

export type RequesterEvent =
  | { kind: 'approved'; by: readonly string[] }
  | { kind: 'expired'; minutes?: number }
  | { kind: 'started' }
  | { kind: 'finished'; headline: string }
  | { kind: 'failed'; error: string };

/**
 * Whether the requester would otherwise miss what happens: their request was answered with an
 * ephemeral "waiting for approval", or the run's thread lives in another channel (announced runs).
 * A run threaded under their own request message in their channel tells them there already.
 */
export function requesterNeedsTelling(run: Pick<RunRow, 'cardTs' | 'threadChannel' | 'channel'>): boolean {
  return Boolean(run.cardTs) || (run.threadChannel !== null && run.threadChannel !== run.channel);
}

function line(run: RunRow, e: RequesterEvent, link: string | undefined): string {
  const what = `\`${run.id}\` (${esc(run.plan.summary)})`;
  const thread = link ? ` <${link}|Progress thread>` : run.threadChannel ? ` Progress is in <#${run.threadChannel}>.` : '';
  switch (e.kind) {
    case 'approved':
      return `:white_check_mark: Your request ${what} was approved by ${e.by.map((u) => `<@${u}>`).join(', ')} and is queued.${thread}`;
    case 'expired':
      return `:alarm_clock: Your request ${what} expired: nobody approved it${e.minutes ? ` within ${e.minutes} min` : ''}. Nothing was run. Request it again if it is still needed.`;
    case 'started':
      return `:arrow_forward: Your run ${what} has started.${thread}`;
    case 'finished':
      return `:white_check_mark: Your run ${what} finished: ${esc(e.headline)}.${thread}`;
    case 'failed':
      return `:x: Your run ${what} failed: ${esc(e.error)}${thread} Details: \`/db run ${run.id}\`.`;
  }
}

/**
 * Tells the requester, ephemerally in the channel they asked from (their request was answered
 * ephemerally, so there is no message of theirs to thread under), with a link to the thread.
 * Best effort: a failed ephemeral never affects the run.
 */
export async function tellRequester(deps: Pick<RunDeps, 'notifier' | 'permalink' | 'log'>, run: RunRow, e: RequesterEvent): Promise<void> {
  if (!requesterNeedsTelling(run) || !/^[UW][A-Z0-9]+$/.test(run.requester)) return;
  try {
    const anchor = run.threadChannel && run.threadTs ? { channel: run.threadChannel, ts: run.threadTs } : run.cardChannel && run.cardTs ? { channel: run.cardChannel, ts: run.cardTs } : undefined;
    const link = anchor && e.kind !== 'expired' ? await deps.permalink(anchor.channel, anchor.ts) : undefined;
    await deps.notifier.ephemeral(run.channel, run.requester, infoMessage(line(run, e, link)));
  } catch (err) {
    deps.log.warn({ runId: run.id, err: (err as Error).message }, 'could not tell the requester');
  }
}
