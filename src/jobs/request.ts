import { expiryMinutes, requiredApprovals, shouldAnnounce } from '../approvals/policy.js';
import type { Target } from '../config.js';
import { userMessageOf } from '../errors.js';
import { sessionFor } from '../postgres/session.js';
import { planHash } from '../runbooks/plan-hash.js';
import type { Runbook } from '../runbooks/runbook.js';
import { esc } from '../slack/blocks.js';
import { approvalCard, errorMessage, infoMessage, reportMessage, type Message } from '../slack/messages.js';
import { audit } from '../store/audit.js';
import { finishRun } from '../store/leases.js';
import { createRun, INLINE_OWNER, newRunId, setCard, stepDone, stepFailed, stepStarted, transition, type RunRow } from '../store/runs.js';
import type { RunDeps } from './deps.js';
import type { RunQueue } from './queue.js';
import { rateLimited, serialized, tooManyPending, type RequestLimits } from './request-limits.js';

export interface RequestInput {
  runbook: Runbook;
  target: Target;
  args: unknown;
  reason?: string;
  requester: string;
  channel: string;
}

/** What the door (slash command, modal) shows the requester. */
export interface Reply {
  visibility: 'ephemeral' | 'in_channel';
  message: Message;
  run?: RunRow;
}

export interface RequestDeps extends RunDeps {
  queue: RunQueue;
  /** Per-user rate limit and pending-approval cap (none when absent). */
  limits?: RequestLimits;
}

/**
 * Read runbooks answer in seconds or say why: a tighter statement_timeout than changes get. Their
 * sessions queue behind run steps in the target's pool and give up with "busy" (src/postgres/pool.ts).
 */
const READ_LIMITS = { statementTimeoutMs: 10_000, use: 'read' } as const;

/**
 * The one path every door takes: plan now, record, then run inline (read), queue (change) or ask
 * for approval (destructive, or change where policy says so).
 */
export async function submitRequest(deps: RequestDeps, input: RequestInput): Promise<Reply> {
  const { runbook: rb, target, args } = input;
  const risk = rb.risk(args as never, target);
  const needed = requiredApprovals(target, risk);
  // Before the plan touches the target: a refused request costs the target nothing.
  const refused = (await rateLimited(deps.limits, input.requester)) ?? (risk !== 'read' && needed > 0 ? await tooManyPending(deps.pool, deps.limits, input.requester) : undefined);
  if (refused) {
    deps.log.info({ runbook: rb.name, target: target.name, requester: input.requester }, 'request refused by limits');
    return { visibility: 'ephemeral', message: refused };
  }
  // Plans run at request time, so they are reads for the pool whatever the runbook's risk.
  const plan = await rb.plan({ target, args, requester: input.requester, session: sessionFor(target, risk === 'read' ? READ_LIMITS : { use: 'read' }) });
  const hash = planHash({ runbook: rb.name, target: target.name, args, facts: plan.facts });
  const id = newRunId();
  const base = { id, runbook: rb.name, target: target.name, environment: target.environment, args, risk, plan, planHash: hash, requester: input.requester, channel: input.channel, ...(input.reason ? { reason: input.reason } : {}) };

  const route = risk === 'read' ? 'read' : needed === 0 ? 'queued' : 'approval';
  deps.metrics.requests.inc({ runbook: rb.name, risk, route });
  deps.log.info({ runId: id, runbook: rb.name, target: target.name, risk, route, requester: input.requester }, 'request');
  if (risk === 'read') {
    const run = await createRun(deps.pool, { ...base, state: 'running', requiredApprovals: 0 });
    return runReadInline(deps, run, rb, target);
  }
  if (needed === 0) {
    const run = await createRun(deps.pool, { ...base, state: 'queued', requiredApprovals: 0 });
    const where = `Progress follows in a thread${shouldAnnounce(target, risk) ? ` in <#${target.incidentChannel}>` : ' here'}.`;
    if (!(await deps.queue.tryEnqueue(run.id, deps.log))) {
      return { visibility: 'ephemeral', run, message: infoMessage(`:warning: Recorded \`${run.id}\` (${esc(plan.summary)}), but the job queue (Redis) is unreachable right now. It starts by itself as soon as the queue is back; nothing is lost. ${where}`) };
    }
    return { visibility: 'ephemeral', run, message: infoMessage(`:inbox_tray: Queued \`${run.id}\`: ${esc(plan.summary)}. ${where}`) };
  }
  const expiresAt = new Date(Date.now() + expiryMinutes(target) * 60_000);
  // Checked again next to the insert, one request per requester at a time (the plan took a while).
  const created = await serialized(`pending:${input.requester}`, async () => (await tooManyPending(deps.pool, deps.limits, input.requester)) ?? createRun(deps.pool, { ...base, state: 'pending_approval', requiredApprovals: needed, expiresAt }));
  if (!('id' in created)) return { visibility: 'ephemeral', message: created };
  const run = created;
  const ts = await deps.notifier.post(target.incidentChannel, approvalCard(run, { approvedBy: [], mention: target.mentionApprovers ? target.approvers : [] }));
  if (!ts) {
    await transition(deps.pool, run.id, ['pending_approval'], 'refused', { error: 'could not post the approval card' });
    return { visibility: 'ephemeral', run, message: errorMessage(`Could not post the approval card in <#${target.incidentChannel}> (is the bot in that channel?). Nothing will run. Invite the bot and try again.`) };
  }
  await setCard(deps.pool, run.id, target.incidentChannel, ts);
  const link = await deps.permalink(target.incidentChannel, ts);
  return {
    visibility: 'ephemeral',
    run,
    message: infoMessage(
      `:hourglass_flowing_sand: *Waiting for approval* (${needed > 1 ? `${needed} approvers` : 'a second person'}) — ${esc(plan.summary)}. ${link ? `<${link}|See the approval card>` : `The card is in <#${target.incidentChannel}>`}. It expires in ${expiryMinutes(target)} min. Run \`${run.id}\`.`,
    ),
  };
}

async function runReadInline(deps: RequestDeps, run: RunRow, rb: Runbook, target: Target): Promise<Reply> {
  const outputs: Record<string, unknown> = {};
  // createRun gave the inline read its lease (fence 1); it is never re-enqueued.
  const lease = { runId: run.id, owner: INLINE_OWNER, fence: run.leaseFence };
  let idx = 0;
  try {
    for (; idx < rb.steps.length; idx++) {
      const step = rb.steps[idx]!;
      await stepStarted(deps.pool, lease, idx, step.name);
      const controller = new AbortController();
      const out =
        (await step.run({
          runId: run.id,
          target,
          args: run.args,
          facts: run.plan.facts,
          requester: run.requester,
          checkpoint: {},
          saveCheckpoint: async () => undefined,
          progress: () => undefined,
          signal: controller.signal,
          log: deps.log,
          outputs,
          session: sessionFor(target, READ_LIMITS),
          openSession: () => Promise.reject(new Error('read runbooks use session()')),
          pollAgain: () => {
            throw new Error('read runbooks answer inline and cannot poll');
          },
          waitedMs: 0,
        })) ?? {};
      outputs[step.name] = out;
      await stepDone(deps.pool, lease, run, idx, step.name, out);
    }
  } catch (err) {
    await stepFailed(deps.pool, lease, idx, userMessageOf(err)).catch(() => undefined);
    await finishRun(deps.pool, lease, 'failed', { error: userMessageOf(err) });
    deps.metrics.runsFinished.inc({ runbook: rb.name, outcome: 'failed' });
    await audit(deps.pool, { actor: 'dbops', action: 'finish', runId: run.id, target: run.target, channel: run.channel, outcome: 'failed', detail: { error: userMessageOf(err) } });
    throw err;
  }
  const result = rb.result(outputs, run.plan.facts, run.args);
  await finishRun(deps.pool, lease, 'succeeded', { result: { headline: result.headline } });
  deps.metrics.runsFinished.inc({ runbook: rb.name, outcome: 'succeeded' });
  await audit(deps.pool, { actor: 'dbops', action: 'finish', runId: run.id, target: run.target, channel: run.channel, outcome: 'succeeded' });
  const sections = rb.report ? rb.report(outputs, run.plan.facts, run.args, target) : [{ fields: result.facts }];
  return {
    visibility: 'in_channel',
    run,
    message: reportMessage(`${result.headline}`, sections, `\`${target.name}\` (${target.engine}, ${target.environment}) · requested by <@${run.requester}> · run \`${run.id}\``),
  };
}
