/**
 * `/db run <id> resume`: a FAILED run continues at its failed step (`next_step` already points at
 * it; the steps before stay done and are not run again). If the run needs approval and its approval
 * no longer stands (older than the target's expiry, or never given), the same plan goes back to
 * approval on a fresh card, re-checked now exactly as an approval re-checks it; otherwise the run
 * moves failed → queued.
 */
import { expiryMinutes, requiredApprovals } from '../approvals/policy.js';
import type { ApprovalDeps } from '../approvals/service.js';
import type { Target } from '../config.js';
import { sessionFor } from '../postgres/session.js';
import { planHash } from '../runbooks/plan-hash.js';
import type { Drift } from '../runbooks/runbook.js';
import { esc, section } from '../slack/blocks.js';
import { approvalCard, errorMessage, infoMessage, type Message } from '../slack/messages.js';
import { listApprovals } from '../store/approvals.js';
import { appendAudit } from '../store/audit.js';
import { inTransaction } from '../store/db.js';
import { getRun, reopenForApproval, requeueFailed, setCard, transition, type RunRow } from '../store/runs.js';
import type { RequestDeps } from './request.js';

export type RunControlDeps = RequestDeps & ApprovalDeps;

/** Who may resume or abort a run: its requester, or an approver of its target (looked up fresh). */
export async function mayControl(deps: RunControlDeps, run: RunRow, target: Target, user: string): Promise<boolean> {
  return user === run.requester || (await deps.directory.isApprover(user, target.approvers, { fresh: true }));
}

/** The approved plan made again now: same hash, or the runbook's drift says the approval may stand. */
async function recheck(deps: RunControlDeps, run: RunRow, target: Target): Promise<Drift> {
  const rb = deps.registry.get(run.runbook)!;
  let facts: unknown = null;
  try {
    facts = (await rb.plan({ target, args: run.args, requester: run.requester, runId: run.id, session: sessionFor(target, { use: 'read' }) })).facts;
  } catch {
    facts = null;
  }
  if (rb.drift) return rb.drift(run.plan.facts, facts);
  const same = facts !== null && planHash({ runbook: rb.name, target: target.name, args: run.args, facts }) === run.planHash;
  return same ? { ok: true } : { ok: false, note: facts === null ? 'the plan cannot be made now' : 'plan changed' };
}

/** Whether the approvals on record still cover a resume now (the quorum, the newest within the expiry). */
async function approvalStands(deps: RunControlDeps, run: RunRow, target: Target, needed: number): Promise<boolean> {
  if (needed === 0) return true;
  const yes = (await listApprovals(deps.pool, run.id)).filter((a) => a.decision === 'approve' && a.approver !== run.requester);
  if (yes.length < needed) return false;
  const newest = Math.max(...yes.map((a) => new Date(a.at).getTime()));
  return Date.now() - newest < expiryMinutes(target) * 60_000;
}

export async function resumeRun(deps: RunControlDeps, runId: string, user: string): Promise<Message> {
  const run = await getRun(deps.pool, runId);
  if (!run) return errorMessage(`No run \`${runId}\`. See \`/db runs\` for recent ones.`);
  const rb = deps.registry.get(run.runbook);
  const target = deps.targets.targets.get(run.target);
  if (!rb || !target) return errorMessage(`This run's ${rb ? 'target' : 'runbook'} is no longer configured; it cannot be resumed.`);
  if (!(await mayControl(deps, run, target, user))) return errorMessage(`Only the requester (<@${run.requester}>) or an approver of \`${esc(run.target)}\` may resume \`${run.id}\`.`);
  if (run.checkpoint.aborted) return errorMessage(`\`${run.id}\` was aborted (what it created was removed); it cannot be resumed. Request it again.`);
  if (run.state !== 'failed') return errorMessage(`Only a failed run can be resumed; \`${run.id}\` is ${run.state.replace('_', ' ')}.`);
  const step = rb.steps[run.nextStep]?.title ?? rb.steps[run.nextStep]?.name ?? 'its last step';
  const needed = requiredApprovals(target, run.risk);

  if (await approvalStands(deps, run, target, needed)) {
    const queued = await inTransaction(deps.pool, async (c) => {
      const r = await requeueFailed(c, run.id);
      if (r) await appendAudit(c, { actor: user, action: 'resume', runId: run.id, target: run.target, channel: run.channel, outcome: 'queued', detail: { from: 'failed', step: run.nextStep } });
      return r;
    });
    if (!queued) return errorMessage(`\`${run.id}\` changed meanwhile (resumed or being aborted by someone else); see \`/db run ${run.id}\`.`);
    const where = queued.threadChannel ? ` Progress follows in its thread in <#${queued.threadChannel}>.` : '';
    if (!(await deps.queue.tryEnqueue(queued.id, deps.log))) return infoMessage(`:warning: \`${run.id}\` is queued again, but the job queue (Redis) is unreachable right now; it starts by itself when the queue is back.${where}`);
    return infoMessage(`:arrows_counterclockwise: Resuming \`${run.id}\` at "${esc(step)}"; the steps before stay done.${where}`);
  }

  // A new approval: of the same plan, and only if that plan still holds now.
  const drift = await recheck(deps, run, target);
  if (!drift.ok) {
    // Nothing is recorded: the run stays failed, and the current plan is a new request away.
    return errorMessage(`\`${run.id}\` needs a new approval to resume, and the facts it acts on have changed since it was approved (${esc(drift.note)}). Request it again to see the current plan.`);
  }
  const expiresAt = new Date(Date.now() + expiryMinutes(target) * 60_000);
  const reopened = await inTransaction(deps.pool, async (c) => {
    const r = await reopenForApproval(c, run.id, needed, expiresAt);
    if (!r) return null;
    // One decision per person per run: the earlier approvals are kept in the audit, then cleared for the new card.
    const earlier = await listApprovals(c, run.id);
    await c.query('DELETE FROM approvals WHERE run_id = $1', [run.id]);
    await appendAudit(c, { actor: user, action: 'resume', runId: run.id, target: run.target, channel: run.channel, outcome: 'pending_approval', detail: { from: 'failed', step: run.nextStep, earlierApprovals: earlier.map((a) => ({ approver: a.approver, decision: a.decision, at: new Date(a.at).toISOString() })), ...(drift.note ? { drift: drift.note } : {}) } });
    return r;
  });
  if (!reopened) return errorMessage(`\`${run.id}\` changed meanwhile (resumed or being aborted by someone else); see \`/db run ${run.id}\`.`);
  const card = approvalCard(reopened, { approvedBy: [], mention: target.mentionApprovers ? target.approvers : [] });
  const why = `:repeat: *Resume of a failed run*, requested by <@${user}>: it continues at "${esc(step)}" (the steps before are done). Its earlier approval has expired, so this is the same plan, checked again now${drift.note ? ` (${esc(drift.note)})` : ''}.`;
  card.blocks.splice(1, 0, section(why));
  const ts = await deps.notifier.post(target.incidentChannel, card);
  if (!ts) {
    await transition(deps.pool, run.id, ['pending_approval'], 'failed', { error: 'could not post the approval card for the resume' });
    return errorMessage(`Could not post the approval card in <#${target.incidentChannel}> (is the bot in that channel?). \`${run.id}\` stays failed.`);
  }
  await setCard(deps.pool, run.id, target.incidentChannel, ts);
  const link = await deps.permalink(target.incidentChannel, ts);
  return infoMessage(
    `:hourglass_flowing_sand: \`${run.id}\` needs a new approval to resume (the earlier one has expired). ${link ? `<${link}|See the approval card>` : `The card is in <#${target.incidentChannel}>`}; once approved it continues at "${esc(step)}". It expires in ${expiryMinutes(target)} min.`,
  );
}
