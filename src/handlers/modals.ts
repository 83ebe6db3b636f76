import type { Routes } from './routes.js';
import { deny } from '../approvals/service.js';
import { FieldError, INPUT_LIMITS, parseModalInput, type Command } from '../commands/parse.js';
import { DbopsError, userMessageOf } from '../errors.js';
import { submitRequest } from '../jobs/request.js';
import { esc } from '../slack/blocks.js';
import { killBlockFor, killModalInput, killStateFrom } from '../slack/kill-modal.js';
import { approvalCard, errorMessage, userError, type Message } from '../slack/messages.js';
import { denyMeta, runbookMeta, slackUserId, type RunbookMeta } from '../slack/metadata.js';
import { DENY_MODAL, readRunbookModal, RUNBOOK_MODAL, runbookModal, stateValue, stateValuesSchema, type ModalRead, type StateValues } from '../slack/views.js';
import { listApprovals } from '../store/approvals.js';
import type { HandlerDeps } from './deps.js';
import { replayedElsewhere } from './replay-gate.js';

/** What a modal opens with: a runbook with arguments missing, or one typed without its target (a form). */
export type ModalCommand = Extract<Command, { kind: 'runbook' | 'form' }>;

/**
 * Custom modals by runbook `modal` name (e.g. kill with a live preview); others get the generic one.
 * `privateMetadata` is already sealed: put it in the view as is.
 */
export type ModalBuilder = (deps: HandlerDeps, cmd: ModalCommand, privateMetadata: string) => Promise<Record<string, unknown>> | Record<string, unknown>;
export const customModals = new Map<string, ModalBuilder>();

/** The target the modal preselects: the one typed, or none (the user picks it in the form). */
export const prefillTarget = (cmd: ModalCommand): string | undefined => (cmd.kind === 'runbook' ? cmd.target.name : undefined);

export async function openModalFor(deps: HandlerDeps, cmd: ModalCommand, triggerId: string, channel: string, user: string): Promise<void> {
  const meta = deps.metadata.seal('runbook', { verb: cmd.runbook.name, channel, user } satisfies RunbookMeta);
  const custom = cmd.runbook.modal ? customModals.get(cmd.runbook.modal) : undefined;
  const target = prefillTarget(cmd);
  const view = custom ? await custom(deps, cmd, meta) : runbookModal(cmd.runbook, deps.targets, { ...(target ? { target } : {}), raw: cmd.raw, ...(cmd.reason ? { reason: cmd.reason } : {}) }, meta);
  await deps.client.views.open({ trigger_id: triggerId, view: view as never });
}

async function tellUser(deps: HandlerDeps, channel: string, user: string, m: Message): Promise<void> {
  try {
    await deps.client.chat.postEphemeral({ channel, user, text: m.text, blocks: m.blocks as never });
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'postEphemeral failed');
  }
}

type ViewLike = { private_metadata?: string; blocks?: Array<{ block_id?: string }>; state?: { values?: unknown } };
type ViewAck = (r?: { response_action: 'errors'; errors: Record<string, string> }) => Promise<void>;

/** An error shown on the first input of the submitted view (Slack needs a block id that exists). */
function firstInput(view: ViewLike, preferred: string): string {
  const ids = (view.blocks ?? []).map((b) => b.block_id).filter((id): id is string => typeof id === 'string');
  return ids.includes(preferred) ? preferred : (ids.find((id) => id.startsWith('arg:') || id === 'reason') ?? preferred);
}

const STALE_FORM = 'This form could not be verified (it was changed, or is too old). Close it and run the command again.';

export function registerModals(routes: Routes, deps: HandlerDeps): void {
  routes.view(RUNBOOK_MODAL, async ({ ack, view, body, context }) => {
    const user = body.user.id;
    const log = deps.log.child({ user, view: RUNBOOK_MODAL });
    // Only what the bot sealed when it opened this modal, for this very user, is trusted.
    const meta = deps.metadata.open('runbook', view.private_metadata, runbookMeta);
    if (!meta || meta.user !== user || !slackUserId.safeParse(user).success) {
      log.warn('runbook modal refused: metadata does not verify');
      await ack({ response_action: 'errors', errors: { [firstInput(view, 'arg:target')]: STALE_FORM } });
      return;
    }
    const rb = deps.registry.get(meta.verb);
    const values = stateValuesSchema.safeParse(view.state?.values ?? {});
    if (!rb || !values.success) {
      await ack({ response_action: 'errors', errors: { [firstInput(view, 'arg:target')]: STALE_FORM } });
      return;
    }
    const state = values.data as StateValues;
    const kill = rb.modal === 'kill';
    const read: ModalRead = kill ? killModalInput(state) : readRunbookModal(state, rb);
    if (Object.keys(read.errors).length) {
      await ack({ response_action: 'errors', errors: read.errors });
      return;
    }
    let parsed: ReturnType<typeof parseModalInput>;
    try {
      parsed = parseModalInput(rb, deps.targets, read.input);
    } catch (err) {
      // Point at the field the error names; zod errors name it as `name`: ….
      const msg = userMessageOf(err);
      const field = err instanceof FieldError ? err.field : (/^`([a-z_-]+)`/.exec(msg)?.[1] ?? 'target');
      const blockId = kill ? killBlockFor(field, killStateFrom(state)) : `arg:${field}`;
      await ack({ response_action: 'errors', errors: { [firstInput(view, blockId)]: msg.slice(0, 300) } });
      return;
    }
    await ack();
    if (await replayedElsewhere(context, log)) return;
    try {
      const { target, args, reason } = parsed;
      const reply = await submitRequest(deps, { runbook: rb, target, args, requester: user, channel: meta.channel, ...(reason ? { reason } : {}) });
      // A read asked for in a private form is answered to that person only; change runs are announced.
      if (reply.visibility === 'in_channel' && reply.run?.risk !== 'read') await deps.client.chat.postMessage({ channel: meta.channel, text: reply.message.text, blocks: reply.message.blocks as never });
      else await tellUser(deps, meta.channel, user, reply.message);
    } catch (err) {
      if (!(err instanceof DbopsError)) log.error({ err: (err as Error).message }, 'modal request failed');
      await tellUser(deps, meta.channel, user, userError(userMessageOf(err)));
    }
  });

  routes.view(DENY_MODAL, async ({ ack, view, body, context }) => {
    const user = body.user.id;
    const meta = deps.metadata.open('deny', view.private_metadata, denyMeta);
    if (!meta || meta.user !== user || !slackUserId.safeParse(user).success) {
      deps.log.warn({ user }, 'deny modal refused: metadata does not verify');
      await ack({ response_action: 'errors', errors: { [firstInput(view, 'reason')]: STALE_FORM } });
      return;
    }
    const values = stateValuesSchema.safeParse(view.state?.values ?? {});
    const reason = values.success ? stateValue(values.data as StateValues, 'reason').text?.trim() || null : null;
    if (reason && reason.length > INPUT_LIMITS.reason) {
      await ack({ response_action: 'errors', errors: { reason: `The reason is ${reason.length} characters long; the limit is ${INPUT_LIMITS.reason}.` } });
      return;
    }
    await ack();
    if (await replayedElsewhere(context, deps.log.child({ user }))) return;
    const runId = meta.runId;
    const d = await deny(deps, runId, user, reason);
    deps.metrics.decisions.inc({ result: d.ok ? d.outcome : d.reason });
    if (d.ok) deps.metrics.observeApprovalWait('denied', d.run.createdAt);
    if (!d.ok) {
      if (d.run) await tellUser(deps, d.run.cardChannel ?? d.run.channel, user, userError(d.message));
      return;
    }
    const run = d.run;
    // The reason is the denier's own words: shown, never interpreted (no @channel, no disguised links).
    const because = reason ? `: ${esc(reason)}` : '';
    if (run.cardChannel && run.cardTs) {
      const approvers = (await listApprovals(deps.pool, runId)).filter((a) => a.decision === 'approve').map((a) => a.approver);
      await deps.notifier.update(run.cardChannel, run.cardTs, approvalCard(run, { approvedBy: approvers, deniedBy: user, denyReason: reason }));
      await deps.notifier.post(run.cardChannel, { text: `<@${run.requester}> your request was denied by <@${user}>${because}. Nothing was run.` }, { threadTs: run.cardTs });
    }
    await tellUser(deps, run.channel, run.requester, errorMessage(`Your request \`${run.id}\` (${esc(run.plan.summary)}) was denied by <@${user}>${because}. Nothing was run.`));
  });
}
