/**
 * `/db run <id> abort`: removes what a failed run created, through its runbook's `abort` (which
 * never removes the source nor a pre-restore snapshot). Two steps, so nothing is removed by a typo:
 * the command lists what would go (a dry run) with a Confirm button sealed for the person who asked;
 * only their click removes it. An abort the runbook marks destructive needs that click from an
 * approver other than the requester. While it runs the run is held (a resume is refused), and once
 * done it stays failed, marked aborted, and can no longer be resumed.
 */
import { z } from 'zod';
import { userMessageOf } from '../errors.js';
import type { Runbook } from '../runbooks/runbook.js';
import { actions, button, esc, section } from '../slack/blocks.js';
import { errorMessage, infoMessage, type Message } from '../slack/messages.js';
import { slackUserId, type MetadataSealer } from '../slack/metadata.js';
import { claimAbort, finishAbort, getRun, releaseAbort, stepOutputs, type RunRow } from '../store/runs.js';
import { mayControl, type RunControlDeps } from './resume.js';

/** The Confirm button of an abort; its value is sealed (run + the user it was shown to). */
export const ABORT_CONFIRM_ACTION = 'run_abort_confirm';
export const abortMeta = z.object({ runId: z.string().regex(/^r_[a-z0-9]{6,40}$/), user: slackUserId });

type Abortable = Runbook & { abort: NonNullable<Runbook['abort']> };
type Checked = { ok: true; run: RunRow; rb: Abortable } | { ok: false; message: Message };

/** Everything that must hold both when the abort is offered and when it is confirmed (checked again then). */
async function check(deps: RunControlDeps, runId: string, user: string, confirming: boolean): Promise<Checked> {
  const run = await getRun(deps.pool, runId);
  if (!run) return { ok: false, message: errorMessage(`No run \`${runId}\`. See \`/db runs\` for recent ones.`) };
  const rb = deps.registry.get(run.runbook);
  const target = deps.targets.targets.get(run.target);
  if (!rb || !target) return { ok: false, message: errorMessage(`This run's ${rb ? 'target' : 'runbook'} is no longer configured; remove what it created by hand.`) };
  if (!rb.abort) return { ok: false, message: errorMessage(`\`/db ${esc(rb.name)}\` runs cannot be aborted: they create nothing to remove.`) };
  if (!(await mayControl(deps, run, target, user))) return { ok: false, message: errorMessage(`Only the requester (<@${run.requester}>) or an approver of \`${esc(run.target)}\` may abort \`${run.id}\`.`) };
  if (run.checkpoint.aborted) return { ok: false, message: infoMessage(`\`${run.id}\` was already aborted.`) };
  if (run.state !== 'failed') return { ok: false, message: errorMessage(`Only a failed run can be aborted; \`${run.id}\` is ${run.state.replace('_', ' ')}.`) };
  // Two people for a destructive abort: the requester may offer it, an approver confirms it.
  if (confirming && rb.abortRisk === 'destructive' && user === run.requester) return { ok: false, message: errorMessage(`Aborting \`${run.id}\` is destructive: an approver other than you must confirm it (they run \`/db run ${run.id} abort\`).`) };
  return { ok: true, run, rb: rb as Abortable };
}

const lines = (xs: string[]) => (xs.length ? xs.map((x) => `• ${esc(x)}`).join('\n') : '• nothing');

/** The offer: what would be removed and kept, and the Confirm button for this user only. */
export async function offerAbort(deps: RunControlDeps & { metadata: MetadataSealer }, runId: string, user: string): Promise<Message> {
  const c = await check(deps, runId, user, false);
  if (!c.ok) return c.message;
  const { run, rb } = c;
  let plan;
  try {
    plan = await rb.abort(run.plan.facts, await stepOutputs(deps.pool, run.id), { runId: run.id, target: deps.targets.targets.get(run.target)!, dryRun: true, log: deps.log });
  } catch (err) {
    return errorMessage(`Could not list what \`${run.id}\` created: ${esc(userMessageOf(err))}`);
  }
  const head = `:wastebasket: *Abort \`${run.id}\`* (${esc(run.plan.summary)})?\n*Would remove*\n${lines(plan.removed)}\n*Keeps*\n${lines(plan.kept)}`;
  const secondPerson = rb.abortRisk === 'destructive' && user === run.requester;
  if (!plan.removed.length) return infoMessage(`${head}\n\nThere is nothing to remove.`);
  if (secondPerson) return infoMessage(`${head}\n\nThis abort is destructive: an approver other than you must confirm it (they run \`/db run ${run.id} abort\`).`);
  const value = deps.metadata.seal('abort', { runId: run.id, user });
  return { text: `Abort ${run.id}?`, blocks: [section(head), actions(`abort:${run.id}`, [button('Confirm abort', ABORT_CONFIRM_ACTION, value, 'danger')])] };
}

/** The click: checked again (state, who, fresh approver lookup), then removed under the run's abort hold. */
export async function confirmAbort(deps: RunControlDeps, runId: string, user: string): Promise<Message> {
  const c = await check(deps, runId, user, true);
  if (!c.ok) return c.message;
  const held = await claimAbort(deps.pool, runId);
  if (!held) return errorMessage(`\`${runId}\` changed meanwhile (resumed, or another abort is under way); see \`/db run ${runId}\`.`);
  const { run, lease } = held;
  let report;
  try {
    report = await c.rb.abort(run.plan.facts, await stepOutputs(deps.pool, run.id), { runId: run.id, target: deps.targets.targets.get(run.target)!, dryRun: false, log: deps.log });
  } catch (err) {
    await releaseAbort(deps.pool, lease).catch(() => undefined);
    deps.log.warn({ runId, err: (err as Error).message }, 'abort failed');
    return errorMessage(`The abort of \`${run.id}\` did not finish: ${esc(userMessageOf(err))} Run \`/db run ${run.id} abort\` again to see what is left.`);
  }
  const done = await finishAbort(deps.pool, lease, user, report);
  const text = `:wastebasket: <@${user}> aborted \`${run.id}\` (${esc(run.plan.summary)}).\n*Removed*\n${lines(report.removed)}\n*Kept*\n${lines(report.kept)}`;
  const thread = done ?? run;
  if (thread.threadChannel) void deps.notifier.post(thread.threadChannel, { text, blocks: [section(text)] }, thread.threadTs ? { threadTs: thread.threadTs } : {});
  return infoMessage(text);
}
