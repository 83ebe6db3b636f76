import type { App } from '@slack/bolt';
import { deny } from '../approvals/service.js';
import type { Command } from '../commands/parse.js';
import { validateArgs } from '../commands/parse.js';
import { DbopsError, userMessageOf } from '../errors.js';
import { submitRequest } from '../jobs/request.js';
import { approvalCard, errorMessage, type Message } from '../slack/messages.js';
import { DENY_MODAL, readRunbookModal, RUNBOOK_MODAL, runbookModal, type ModalMeta } from '../slack/views.js';
import { listApprovals } from '../store/approvals.js';
import type { HandlerDeps } from './deps.js';
import { readKillModal } from '../slack/kill-modal.js';

/** Custom modals by runbook `modal` name (e.g. kill with a live preview); others get the generic one. */
export type ModalBuilder = (deps: HandlerDeps, cmd: Extract<Command, { kind: 'runbook' }>, meta: ModalMeta) => Promise<Record<string, unknown>> | Record<string, unknown>;
export const customModals = new Map<string, ModalBuilder>();

export async function openModalFor(deps: HandlerDeps, cmd: Extract<Command, { kind: 'runbook' }>, triggerId: string, channel: string): Promise<void> {
  const meta: ModalMeta = { verb: cmd.runbook.name, channel };
  const custom = cmd.runbook.modal ? customModals.get(cmd.runbook.modal) : undefined;
  const view = custom ? await custom(deps, cmd, meta) : runbookModal(cmd.runbook, deps.targets, { target: cmd.target.name, raw: cmd.raw }, meta);
  await deps.client.views.open({ trigger_id: triggerId, view: view as never });
}

async function tellUser(deps: HandlerDeps, channel: string, user: string, m: Message): Promise<void> {
  try {
    await deps.client.chat.postEphemeral({ channel, user, text: m.text, blocks: m.blocks as never });
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'postEphemeral failed');
  }
}

export function registerModals(app: App, deps: HandlerDeps): void {
  app.view(RUNBOOK_MODAL, async ({ ack, view, body }) => {
    const meta = JSON.parse(view.private_metadata || '{}') as ModalMeta;
    const user = body.user.id;
    const rb = deps.registry.get(meta.verb);
    const read = meta.verb === 'kill' ? readKillModal(view.state.values as never) : readRunbookModal(view.state.values as never, rb);
    const { target: targetName, raw, reason, errors } = read;
    if (Object.keys(errors).length) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    const target = targetName ? deps.targets.targets.get(targetName) : undefined;
    if (!rb || !target) {
      await ack({ response_action: 'errors', errors: { 'arg:target': 'Choose a target from the list.' } });
      return;
    }
    let args: unknown;
    try {
      args = validateArgs(rb, raw);
    } catch (err) {
      // Point at the field the error names (`name`: …) when there is one.
      const msg = userMessageOf(err);
      const field = /^`([a-z_]+)`/.exec(msg)?.[1];
      const candidates = field ? [`arg:${field}`, field === 'what' ? 'arg:pids' : ''] : [];
      const blockId = candidates.find((id) => id && view.blocks.some((b) => b.block_id === id)) ?? 'arg:target';
      await ack({ response_action: 'errors', errors: { [blockId]: msg.slice(0, 300) } });
      return;
    }
    await ack();
    try {
      const reply = await submitRequest(deps, { runbook: rb, target, args, requester: user, channel: meta.channel, ...(reason ? { reason } : {}) });
      if (reply.visibility === 'in_channel') await deps.client.chat.postMessage({ channel: meta.channel, text: reply.message.text, blocks: reply.message.blocks as never });
      else await tellUser(deps, meta.channel, user, reply.message);
    } catch (err) {
      if (!(err instanceof DbopsError)) deps.log.error({ err: (err as Error).message }, 'modal request failed');
      await tellUser(deps, meta.channel, user, errorMessage(userMessageOf(err)));
    }
  });

  app.view(DENY_MODAL, async ({ ack, view, body }) => {
    await ack();
    const { runId } = JSON.parse(view.private_metadata || '{}') as { runId: string };
    const reason = (view.state.values.reason?.value?.value as string | undefined)?.trim() || null;
    const user = body.user.id;
    const d = await deny(deps, runId, user, reason);
    deps.metrics.decisions.inc({ result: d.ok ? d.outcome : d.reason });
    if (!d.ok) {
      if (d.run) await tellUser(deps, d.run.cardChannel ?? d.run.channel, user, errorMessage(d.message));
      return;
    }
    const run = d.run;
    if (run.cardChannel && run.cardTs) {
      const approvers = (await listApprovals(deps.pool, runId)).filter((a) => a.decision === 'approve').map((a) => a.approver);
      await deps.notifier.update(run.cardChannel, run.cardTs, approvalCard(run, { approvedBy: approvers, deniedBy: user, denyReason: reason }));
      await deps.notifier.post(run.cardChannel, { text: `<@${run.requester}> your request was denied by <@${user}>${reason ? `: ${reason}` : ''}. Nothing was run.` }, { threadTs: run.cardTs });
    }
    await tellUser(deps, run.channel, run.requester, errorMessage(`Your request \`${run.id}\` (${run.plan.summary}) was denied by <@${user}>${reason ? `: ${reason}` : ''}. Nothing was run.`));
  });
}
