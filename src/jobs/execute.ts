import { formatDuration } from '../duration.js';
import { shouldAnnounce } from '../approvals/policy.js';
import { DbopsError, userMessageOf } from '../errors.js';
import { openSessionOn, sessionFor } from '../postgres/session.js';
import type { Progress, Runbook } from '../runbooks/runbook.js';
import { announcement, approvalCard, failureMessage, progressMessage, requestMessage, resultMessage } from '../slack/messages.js';
import { audit } from '../store/audit.js';
import { listApprovals } from '../store/approvals.js';
import { claimRun, finishRun, LeaseLost, markQueuedBehind, parkRun, releaseLease, renewLease, type Lease } from '../store/leases.js';
import { esc, section } from '../slack/blocks.js';
import { getRun, saveCheckpoint, setThread, stepDone, stepFailed, stepOutputs, stepStarted, type RunRow } from '../store/runs.js';
import type { RunDeps } from './deps.js';
import { tellRequester } from './notify-requester.js';

/** Attempts (starts + resumes) before a run is given up as failed. */
export const MAX_ATTEMPTS = 5;

/** Thrown when shutdown interrupts a step: the run stays "running" and is resumed by the next worker. */
export class InterruptedByShutdown extends Error {
  constructor() {
    super('interrupted by shutdown; the run resumes at its current step');
    this.name = 'InterruptedByShutdown';
  }
}

async function approversOf(deps: RunDeps, runId: string): Promise<string[]> {
  return (await listApprovals(deps.pool, runId)).filter((a) => a.decision === 'approve').map((a) => a.approver);
}

/**
 * Where progress goes: announced runs live in the incident channel (in the approval card's thread
 * when there is one, with the announcement broadcast), others under the request message.
 */
async function ensureThread(deps: RunDeps, run: RunRow, approvers: string[]): Promise<RunRow> {
  if (run.threadTs && run.threadChannel) return run;
  const target = deps.targets.targets.get(run.target)!;
  if (shouldAnnounce(target, run.risk)) {
    const msg = announcement(run, approvers);
    if (run.cardChannel && run.cardTs) {
      await deps.notifier.post(run.cardChannel, msg, { threadTs: run.cardTs, broadcast: true });
      await setThread(deps.pool, run.id, run.cardChannel, run.cardTs);
    } else {
      const ts = await deps.notifier.post(target.incidentChannel, msg);
      if (ts) await setThread(deps.pool, run.id, target.incidentChannel, ts);
    }
  } else {
    const ts = await deps.notifier.post(run.channel, requestMessage(run, { approvers }));
    if (ts) await setThread(deps.pool, run.id, run.channel, ts);
  }
  return (await getRun(deps.pool, run.id))!;
}

/** Updates the top-of-thread message (request message or approval card) to the run's state. */
async function refreshHead(deps: RunDeps, run: RunRow, approvers: string[]): Promise<void> {
  if (run.cardChannel && run.cardTs) {
    const link = run.threadTs && run.threadChannel && run.threadTs !== run.cardTs ? await deps.permalink(run.threadChannel, run.threadTs) : undefined;
    // An approval given over drifted facts keeps saying so (recorded as the approval's note).
    const note = (await listApprovals(deps.pool, run.id)).filter((a) => a.decision === 'approve' && a.reason).at(-1)?.reason;
    void deps.notifier.update(run.cardChannel, run.cardTs, approvalCard(run, { approvedBy: approvers, ...(link ? { threadLink: link } : {}), ...(note ? { note } : {}) }));
  } else if (run.threadChannel && run.threadTs && !shouldAnnounce(deps.targets.targets.get(run.target)!, run.risk)) {
    void deps.notifier.update(run.threadChannel, run.threadTs, requestMessage(run, { approvers }));
  }
}

export interface ExecuteOptions {
  /** This executor's identity in the lease (host:pid:random). */
  owner: string;
  /** Lease length; renewed every third of it while the run executes. */
  leaseMs: number;
}

/** A polling step asked to be looked at again later: the run is parked, the job must be delayed. */
export class PollLater extends Error {
  constructor(readonly afterMs: number, readonly progress?: Progress) {
    super(`poll again in ${afterMs} ms`);
    this.name = 'PollLater';
  }
}

/** Default for how long a polling step may wait (cloud snapshots and restores: minutes to an hour). */
export const DEFAULT_STEP_DEADLINE_MS = 2 * 3600_000;
const waitKey = (idx: number) => `waitingSince:${idx}`;

/** A destructive run waits for another destructive run on its target to end. */
export class QueuedBehind extends Error {
  constructor(readonly behind: string) {
    super(`queued behind run ${behind}`);
    this.name = 'QueuedBehind';
  }
}

/** Another executor holds a live lease on the run: try again after `until` (it may die). */
export class LeaseHeld extends Error {
  constructor(readonly until: Date) {
    super(`run is being executed elsewhere (lease until ${until.toISOString()})`);
    this.name = 'LeaseHeld';
  }
}

/**
 * Keeps the lease alive while the run executes. `lost` aborts when the lease was taken over, or when
 * it could not be renewed for most of its length (state DB unreachable): past that point another
 * executor may legitimately claim the run, so this one must stop acting.
 */
function heartbeat(deps: RunDeps, lease: Lease, leaseMs: number): { lost: AbortSignal; stop: () => void } {
  const lost = new AbortController();
  let renewedAt = Date.now();
  let busy = false;
  const timer = setInterval(() => {
    if (busy || lost.signal.aborted) return;
    busy = true;
    renewLease(deps.pool, lease, leaseMs)
      .then((ok) => {
        if (ok) renewedAt = Date.now();
        else lost.abort();
      })
      .catch((err: Error) => {
        deps.log.warn({ runId: lease.runId, err: err.message }, 'lease renewal failed; retrying');
        if (Date.now() - renewedAt > leaseMs * 0.8) lost.abort();
      })
      .finally(() => (busy = false));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  return { lost: lost.signal, stop: () => clearInterval(timer) };
}

/**
 * Runs (or resumes) one run. Idempotent: a finished run is left alone; a run that is not approved
 * never starts; a run someone else is executing is not touched (LeaseHeld); each step's completion
 * is committed in Postgres under the current fence before the next begins, so a crashed worker's
 * successor continues at the first unfinished step and a stale worker records nothing.
 */
export async function executeRun(deps: RunDeps, runId: string, signal: AbortSignal, opts: ExecuteOptions): Promise<RunRow | null> {
  const claim = await claimRun(deps.pool, runId, opts.owner, opts.leaseMs, { destructiveLimit: (t) => deps.targets.targets.get(t)?.maxDestructiveRuns ?? 1 });
  if (!claim.ok) {
    if (claim.held) throw new LeaseHeld(claim.until);
    if ('behind' in claim) {
      if (await markQueuedBehind(deps.pool, runId, claim.behind.id)) await sayQueuedBehind(deps, claim.run, claim.behind);
      throw new QueuedBehind(claim.behind.id);
    }
    return claim.run;
  }
  const { lease } = claim;
  const beat = heartbeat(deps, lease, opts.leaseMs);
  try {
    return await runClaimed(deps, claim.run, lease, claim.woke, signal, beat.lost);
  } catch (err) {
    // A parked run: the heartbeat may notice the (now 'waiting') lease is no longer ours a moment
    // after parking, which is not a loss — the job must still be delayed for the next look.
    if (err instanceof PollLater) throw err;
    if (err instanceof LeaseLost || (beat.lost.aborted && !(err instanceof InterruptedByShutdown))) {
      deps.log.warn({ runId, fence: lease.fence }, 'lease lost: another executor owns this run now; standing down');
      return getRun(deps.pool, runId);
    }
    throw err;
  } finally {
    beat.stop();
  }
}

/** Visible waiting: on the approval card's thread (or to the requester's channel) once per blocker. */
async function sayQueuedBehind(deps: RunDeps, run: RunRow, behind: { id: string; runbook: string }): Promise<void> {
  const text = `:hourglass: \`${run.id}\` (${esc(run.plan.summary)}) is approved and queued behind run \`${behind.id}\` (${esc(behind.runbook)} on \`${esc(run.target)}\`): one destructive run per target at a time. It starts when that run ends.`;
  if (run.cardChannel && run.cardTs) void deps.notifier.post(run.cardChannel, { text, blocks: [section(text)] }, { threadTs: run.cardTs });
  else void deps.notifier.post(run.channel, { text, blocks: [section(text)] });
}

async function runClaimed(deps: RunDeps, claimed: RunRow, lease: Lease, woke: boolean, shutdown: AbortSignal, lost: AbortSignal): Promise<RunRow | null> {
  const runId = claimed.id;
  let run = claimed;
  // `woke`: the next look of a polling step, not a resume after a crash (no new audit row, attempt or card update).
  const resumed = run.attempts > 1 && !woke;
  const rb = deps.registry.get(run.runbook);
  if (run.attempts > MAX_ATTEMPTS) {
    // Crashed this often at the same point: stop and tell people instead of looping forever.
    return failRun(deps, lease, run, new DbopsError('internal', `The run was interrupted ${run.attempts - 1} times (worker crashes or lost connections) and was stopped. Check the bot logs and the target before retrying.`), rb?.steps[run.nextStep]?.name);
  }
  const log = deps.log.child({ runId, runbook: run.runbook, target: run.target, fence: lease.fence });
  const target = deps.targets.targets.get(run.target);
  if (!woke) await audit(deps.pool, { actor: 'dbops', action: resumed ? 'resume' : 'start', runId, target: run.target, channel: run.channel, outcome: 'running', detail: { attempt: run.attempts, step: run.nextStep } });
  if (!rb || !target) return failRun(deps, lease, run, new DbopsError('config', `This run's ${rb ? 'target' : 'runbook'} is no longer configured; nothing was done.`), undefined);

  const approvers = await approversOf(deps, runId);
  // Messages never gate the action: the thread, the card refresh and the live progress message are
  // posted in the background (in order, through the notifier's channel lanes) while the steps run.
  // Progress reported before its message exists is kept (latest wins) and shown once it lands.
  let progressTs = typeof run.checkpoint.progressTs === 'string' ? run.checkpoint.progressTs : undefined;
  let threadChannel = run.threadTs ? run.threadChannel : null;
  let pending: Progress | undefined;
  let currentStep = rb.steps[run.nextStep]?.title ?? rb.steps[run.nextStep]?.name ?? 'finishing';
  const showProgress = (p: Progress) => {
    if (lost.aborted) return;
    if (!threadChannel || !progressTs) {
      pending = p;
      return;
    }
    void deps.notifier.update(threadChannel, progressTs, progressMessage(run, p, currentStep));
  };
  const output = (async () => {
    const threaded = await ensureThread(deps, run, approvers);
    if (!woke) await refreshHead(deps, threaded, approvers);
    if (!woke && !resumed) void tellRequester(deps, threaded, { kind: 'started' });
    if (threaded.threadChannel && !progressTs && run.nextStep < rb.steps.length) {
      const first = pending ?? { text: resumed ? 'resuming…' : 'starting…' };
      const ts = await deps.notifier.post(threaded.threadChannel, progressMessage(threaded, first, currentStep), threaded.threadTs ? { threadTs: threaded.threadTs } : {});
      if (ts) {
        progressTs = ts;
        await saveCheckpoint(deps.pool, lease, { progressTs: ts }).catch(() => undefined);
      }
    }
    threadChannel = threaded.threadChannel;
    if (pending) showProgress(pending);
    pending = undefined;
  })().catch((err: Error) => log.warn({ err: err.message }, 'could not post the run thread or progress message'));

  const session = sessionFor(target);
  // Steps stop at a safe point on shutdown and when the lease is lost (someone else runs it now).
  const stepSignal = AbortSignal.any([shutdown, lost]);
  let idx = run.nextStep;
  let polling = woke;
  try {
    for (; idx < rb.steps.length; idx++) {
      if (lost.aborted) throw new LeaseLost(runId);
      if (shutdown.aborted) throw new InterruptedByShutdown();
      const step = rb.steps[idx]!;
      currentStep = step.title ?? step.name;
      // The next look of a polling step continues its attempt; anything else (re)starts the step.
      if (!polling) {
        const attempt = await stepStarted(deps.pool, lease, idx, step.name);
        showProgress({ text: attempt > 1 ? `resuming (attempt ${attempt})…` : 'starting…' });
      }
      polling = false;
      const fresh = (await getRun(deps.pool, runId))!;
      const since = typeof fresh.checkpoint[waitKey(idx)] === 'number' ? (fresh.checkpoint[waitKey(idx)] as number) : undefined;
      const output = await step.run({
        runId,
        target,
        args: run.args,
        facts: run.plan.facts,
        requester: run.requester,
        checkpoint: fresh.checkpoint,
        saveCheckpoint: (data) => saveCheckpoint(deps.pool, lease, data),
        progress: showProgress,
        signal: stepSignal,
        log,
        outputs: await stepOutputs(deps.pool, runId),
        session,
        openSession: (limits) => openSessionOn(target, limits),
        pollAgain: (afterMs, progress) => {
          throw new PollLater(afterMs, progress);
        },
        waitedMs: since ? Date.now() - since : 0,
      });
      // A step that finished is recorded even during shutdown, so it is not run again on resume.
      await stepDone(deps.pool, lease, run, idx, step.name, output ?? {});
    }
  } catch (err) {
    if (err instanceof LeaseLost || lost.aborted) throw new LeaseLost(runId);
    if (err instanceof PollLater) {
      const step = rb.steps[idx]!;
      const fresh = (await getRun(deps.pool, runId))!;
      const since = typeof fresh.checkpoint[waitKey(idx)] === 'number' ? (fresh.checkpoint[waitKey(idx)] as number) : Date.now();
      const deadline = step.deadlineMs ?? DEFAULT_STEP_DEADLINE_MS;
      if (Date.now() - since > deadline) {
        const e = new DbopsError('provider', `"${step.title ?? step.name}" was still not done after ${formatDuration(deadline / 1000)}, so the run stopped waiting.${err.progress ? ` Last state: ${err.progress.text}.` : ''}`);
        await stepFailed(deps.pool, lease, idx, e.userMessage).catch(() => undefined);
        await output;
        return failRun(deps, lease, run, e, step.name, progressTs, rb.leftState ? rb.leftState(step.name, run.plan.facts, run.id) : undefined);
      }
      if (fresh.checkpoint[waitKey(idx)] === undefined) await saveCheckpoint(deps.pool, lease, { [waitKey(idx)]: since });
      showProgress({ ...(err.progress ?? { text: 'waiting' }), text: `${err.progress?.text ?? 'waiting'} · next check in ${formatDuration(err.afterMs / 1000)}` });
      // Parked: no worker is held; the job comes back after afterMs, or the reconciler re-enqueues it then.
      if (!(await parkRun(deps.pool, lease, err.afterMs))) throw new LeaseLost(runId);
      throw err;
    }
    if (err instanceof InterruptedByShutdown || shutdown.aborted) {
      // Hand the run back at once rather than making the next worker wait out the lease.
      await releaseLease(deps.pool, lease).catch(() => undefined);
      throw new InterruptedByShutdown();
    }
    log.warn({ step: rb.steps[idx]?.name, err: describeError(err) }, 'step failed');
    await stepFailed(deps.pool, lease, idx, userMessageOf(err)).catch(() => undefined);
    const stepName = rb.steps[idx]?.name;
    await output; // the failure is posted in the run's thread, after its progress message
    return failRun(deps, lease, run, err, stepName, progressTs, stepName && rb.leftState ? rb.leftState(stepName, run.plan.facts, run.id) : undefined);
  }
  await output; // the result goes in the run's thread, after its progress message
  return succeedRun(deps, lease, run, rb, progressTs, approvers);
}

/** Operator detail for the logs (redacted there); never shown in Slack. */
function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const cause = (err as { cause?: unknown }).cause;
  return { message: err.message, code: (err as { code?: string }).code, ...(cause instanceof Error ? { cause: cause.message } : {}) };
}

async function succeedRun(deps: RunDeps, lease: Lease, run: RunRow, rb: Runbook, progressTs: string | undefined, approvers: string[]): Promise<RunRow | null> {
  const outputs = await stepOutputs(deps.pool, run.id);
  const result = rb.result(outputs, run.plan.facts, run.args);
  const done = await finishRun(deps.pool, lease, 'succeeded', { result: { headline: result.headline, facts: result.facts } });
  if (!done) return getRun(deps.pool, run.id);
  await audit(deps.pool, { actor: 'dbops', action: 'finish', runId: run.id, target: run.target, channel: run.channel, outcome: 'succeeded', detail: { headline: result.headline } });
  const seconds = (Date.now() - (done.startedAt ?? done.createdAt).getTime()) / 1000;
  deps.metrics.runsFinished.inc({ runbook: done.runbook, outcome: 'succeeded' });
  deps.metrics.runSeconds.observe({ runbook: done.runbook }, seconds);
  const msg = resultMessage(done, result, seconds);
  if (done.threadChannel) {
    if (progressTs) void deps.notifier.update(done.threadChannel, progressTs, progressMessage(done, { text: `finished in ${formatDuration(seconds)}`, percent: 100 }, 'Done', 'done'));
    // Announced runs, and runbooks whose result people must see (a restore's validation), reach the channel.
    const announced = shouldAnnounce(deps.targets.targets.get(done.target)!, done.risk) || rb.broadcastResult === true;
    await deps.notifier.post(done.threadChannel, msg, { ...(done.threadTs ? { threadTs: done.threadTs } : {}), broadcast: announced });
  }
  await refreshHead(deps, done, approvers);
  void tellRequester(deps, done, { kind: 'finished', headline: result.headline });
  return done;
}

async function failRun(deps: RunDeps, lease: Lease, run: RunRow, err: unknown, step: string | undefined, progressTs?: string, leftState?: string): Promise<RunRow | null> {
  const userMsg = userMessageOf(err);
  deps.log.error({ runId: run.id, step, err: describeError(err) }, 'run failed');
  const failed = await finishRun(deps.pool, lease, 'failed', { error: userMsg });
  if (!failed) return getRun(deps.pool, run.id);
  deps.metrics.runsFinished.inc({ runbook: failed.runbook, outcome: 'failed' });
  await audit(deps.pool, { actor: 'dbops', action: 'finish', runId: run.id, target: run.target, channel: run.channel, outcome: 'failed', detail: { step: step ?? null, error: userMsg } });
  const left = leftState ?? (step ? `steps before "${step}" completed; "${step}" did not complete; later steps were not started` : 'nothing was started');
  const msg = failureMessage(failed, userMsg, step, left);
  if (failed.threadChannel) {
    if (progressTs) void deps.notifier.update(failed.threadChannel, progressTs, progressMessage(failed, { text: `failed: ${userMsg}` }, step ?? 'run', 'failed'));
    const announced = shouldAnnounce(deps.targets.targets.get(failed.target) ?? ({ environment: failed.environment } as never), failed.risk) || deps.registry.get(failed.runbook)?.broadcastResult === true;
    await deps.notifier.post(failed.threadChannel, msg, { ...(failed.threadTs ? { threadTs: failed.threadTs } : {}), broadcast: announced });
  } else {
    await deps.notifier.post(failed.channel, msg);
  }
  await refreshHead(deps, failed, await approversOf(deps, run.id));
  void tellRequester(deps, failed, { kind: 'failed', error: userMsg });
  return failed;
}
