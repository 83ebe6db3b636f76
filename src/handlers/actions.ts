import type { App, BlockButtonAction } from '@slack/bolt';
import { approve } from '../approvals/service.js';
import { getRun } from '../store/runs.js';
import { approvalCard, errorMessage, infoMessage } from '../slack/messages.js';
import { denyModal } from '../slack/views.js';
import type { HandlerDeps } from './deps.js';
import { respondWith } from './reply.js';

export function registerActions(app: App, deps: HandlerDeps): void {
  app.action<BlockButtonAction>('approval_approve', async ({ ack, action, body, respond }) => {
    await ack();
    const runId = action.value ?? '';
    const user = body.user.id;
    const log = deps.log.child({ runId, user });
    try {
      const d = await approve(deps, runId, user);
      deps.metrics.decisions.inc({ result: d.ok ? d.outcome : d.reason });
      if (!d.ok) {
        log.info({ reason: d.reason }, 'approval refused');
        await respondWith(respond, errorMessage(d.message), 'ephemeral', log);
        // Terminal outcomes found while checking (expired, plan changed) are shown on the card too.
        if (d.run && d.run.cardChannel && d.run.cardTs && (d.reason === 'expired' || d.reason === 'plan_changed')) {
          await deps.notifier.update(d.run.cardChannel, d.run.cardTs, approvalCard(d.run, { approvedBy: [], note: d.reason === 'plan_changed' ? 'plan changed — request again' : 'expired — request again' }));
        }
        return;
      }
      if (d.outcome === 'recorded') {
        if (d.run.cardChannel && d.run.cardTs) await deps.notifier.update(d.run.cardChannel, d.run.cardTs, approvalCard(d.run, { approvedBy: d.approvers }));
        await respondWith(respond, infoMessage(`:white_check_mark: Approval recorded. ${d.remaining} more approval(s) needed.`), 'ephemeral', log);
        return;
      }
      if (d.outcome === 'approved') {
        // Approved is approved: if Redis is down now, housekeeping enqueues the run when it is back.
        await deps.queue.tryEnqueue(d.run.id, log);
        if (d.run.cardChannel && d.run.cardTs) await deps.notifier.update(d.run.cardChannel, d.run.cardTs, approvalCard(d.run, { approvedBy: d.approvers }));
        await respondWith(respond, infoMessage(`:white_check_mark: Approved. Run \`${d.run.id}\` is queued; progress follows in the card's thread.`), 'ephemeral', log);
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'approve failed');
      await respondWith(respond, errorMessage('Could not record the approval (internal error). Nothing was run. Try again in a moment.'), 'ephemeral', log);
    }
  });

  app.action<BlockButtonAction>('approval_deny', async ({ ack, action, body, respond }) => {
    await ack();
    const run = await getRun(deps.pool, action.value ?? '');
    if (!run || run.state !== 'pending_approval') {
      await respondWith(respond, errorMessage(run ? `This request was already ${run.state.replace('_', ' ')}.` : 'That request no longer exists.'));
      return;
    }
    try {
      await deps.client.views.open({ trigger_id: body.trigger_id, view: denyModal(run.id, run.plan.summary) as never });
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'views.open for deny failed');
      await respondWith(respond, errorMessage('Could not open the deny dialog (Slack did not accept it in time). Click Deny again.'));
    }
  });
}
