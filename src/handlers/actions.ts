import type { BlockButtonAction } from '@slack/bolt';
import type { Routes } from './routes.js';
import { approve } from '../approvals/service.js';
import { tellRequester } from '../jobs/notify-requester.js';
import { getRun, type RunRow } from '../store/runs.js';
import { esc } from '../slack/blocks.js';
import { approvalCard, errorMessage, infoMessage, userError } from '../slack/messages.js';
import { slackUserId, type DenyMeta } from '../slack/metadata.js';
import { denyModal } from '../slack/views.js';
import type { HandlerDeps } from './deps.js';
import { respondWith } from './reply.js';
import { replayedElsewhere } from './replay-gate.js';

/** Where a button was clicked: the message and channel Slack says it was on. */
function clickedOn(body: BlockButtonAction): { channel?: string; ts?: string } {
  const container = body.container as { message_ts?: unknown; channel_id?: unknown } | undefined;
  const ts = body.message?.ts ?? container?.message_ts;
  const channel = body.channel?.id ?? container?.channel_id;
  return { ...(typeof channel === 'string' ? { channel } : {}), ...(typeof ts === 'string' ? { ts } : {}) };
}

/**
 * A decision counts only when clicked on the run's own approval card: the button's value is just text,
 * so a click elsewhere (another run's card, any other message) naming this run is refused.
 */
function cardMismatch(run: RunRow, body: BlockButtonAction): string | undefined {
  const at = clickedOn(body);
  if (!run.cardChannel || !run.cardTs) return 'This request has no approval card yet. Use the buttons on its card once it is posted.';
  if (at.channel !== run.cardChannel || at.ts !== run.cardTs) return `That button is not on the approval card of \`${run.id}\`. Use the buttons on that request's own card in <#${run.cardChannel}>.`;
  return undefined;
}

/** Only people decide: a user-group or bot id in the click is refused before anything is looked up. */
const NOT_A_USER = 'Only a Slack user (U… or W… id) can approve or deny a request.';

export function registerActions(routes: Routes, deps: HandlerDeps): void {
  routes.action<BlockButtonAction>('approval_approve', async ({ ack, action, body, respond, context }) => {
    await ack();
    const runId = action.value ?? '';
    const user = body.user.id;
    const log = deps.log.child({ runId, user });
    if (await replayedElsewhere(context, log)) return;
    try {
      if (!slackUserId.safeParse(user).success) {
        log.warn('approval refused: not a user id');
        return await respondWith(respond, userError(NOT_A_USER), 'ephemeral', log);
      }
      const run = await getRun(deps.pool, runId);
      const mismatch = run ? cardMismatch(run, body) : undefined;
      if (mismatch) {
        log.warn({ clicked: clickedOn(body) }, 'approval refused: not clicked on the run\'s card');
        deps.metrics.decisions.inc({ result: 'wrong_card' });
        // Trusted mrkdwn: the channel link and run id are the bot's own.
        return await respondWith(respond, errorMessage(mismatch), 'ephemeral', log);
      }
      const d = await approve(deps, runId, user);
      deps.metrics.decisions.inc({ result: d.ok ? d.outcome : d.reason });
      if (d.ok) deps.metrics.observeApprovalWait(d.outcome, d.run.createdAt);
      if (!d.ok) {
        log.info({ reason: d.reason }, 'approval refused');
        await respondWith(respond, userError(d.message), 'ephemeral', log);
        // Terminal outcomes found while checking (expired, plan changed) are shown on the card too.
        if (d.run && d.run.cardChannel && d.run.cardTs && (d.reason === 'expired' || d.reason === 'plan_changed')) {
          await deps.notifier.update(d.run.cardChannel, d.run.cardTs, approvalCard(d.run, { approvedBy: [], note: d.reason === 'plan_changed' ? 'plan changed — request again' : 'expired — request again' }));
        }
        return;
      }
      if (d.outcome === 'recorded') {
        const t = deps.targets.targets.get(d.run.target);
        if (d.run.cardChannel && d.run.cardTs) await deps.notifier.update(d.run.cardChannel, d.run.cardTs, approvalCard(d.run, { approvedBy: d.approvers, ...(d.drift ? { note: d.drift } : {}), mention: t?.mentionApprovers ? t.approvers : [] }));
        await respondWith(respond, infoMessage(`:white_check_mark: Approval recorded. ${d.remaining} more approval(s) needed.${d.drift ? ` Since the request: ${esc(d.drift)}.` : ''}`), 'ephemeral', log);
        return;
      }
      if (d.outcome === 'approved') {
        // Approved is approved: if Redis is down now, housekeeping enqueues the run when it is back.
        await deps.queue.tryEnqueue(d.run.id, log);
        void tellRequester(deps, d.run, { kind: 'approved', by: d.approvers });
        if (d.run.cardChannel && d.run.cardTs) await deps.notifier.update(d.run.cardChannel, d.run.cardTs, approvalCard(d.run, { approvedBy: d.approvers, ...(d.drift ? { note: d.drift } : {}) }));
        await respondWith(respond, infoMessage(`:white_check_mark: Approved. Run \`${d.run.id}\` is queued; progress follows in the card's thread.${d.drift ? ` Since the request: ${esc(d.drift)}; only the approved sessions still there are acted on.` : ''}`), 'ephemeral', log);
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'approve failed');
      await respondWith(respond, userError('Could not record the approval (internal error). Nothing was run. Try again in a moment.'), 'ephemeral', log);
    }
  });

  routes.action<BlockButtonAction>('approval_deny', async ({ ack, action, body, respond, context }) => {
    await ack();
    const user = body.user.id;
    const log = deps.log.child({ runId: action.value, user });
    if (await replayedElsewhere(context, log)) return;
    if (!slackUserId.safeParse(user).success) return await respondWith(respond, userError(NOT_A_USER), 'ephemeral', log);
    const run = await getRun(deps.pool, action.value ?? '');
    if (!run || run.state !== 'pending_approval') {
      await respondWith(respond, userError(run ? `This request was already ${run.state.replace('_', ' ')}.` : 'That request no longer exists.'));
      return;
    }
    const mismatch = cardMismatch(run, body);
    if (mismatch) {
      log.warn({ clicked: clickedOn(body) }, 'deny refused: not clicked on the run\'s card');
      return await respondWith(respond, errorMessage(mismatch), 'ephemeral', log);
    }
    try {
      // The modal carries the run and the denier, sealed: its submission cannot name another run or user.
      const meta = deps.metadata.seal('deny', { runId: run.id, user } satisfies DenyMeta);
      await deps.client.views.open({ trigger_id: body.trigger_id, view: denyModal(run.id, run.plan.summary, meta) as never });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'views.open for deny failed');
      await respondWith(respond, userError('Could not open the deny dialog (Slack did not accept it in time). Click Deny again.'));
    }
  });
}
