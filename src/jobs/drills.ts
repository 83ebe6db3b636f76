/**
 * Backup drills: `/db backup verify` on a schedule. Postgres (backup_drills) says what is scheduled;
 * BullMQ job schedulers (one per target, id `drill:<target>`) fire it. Every worker re-upserts the
 * schedulers from Postgres at start and on each housekeeping tick, so a wiped Redis gets them back
 * with the same phase. Each firing submits a verify run as the bot through the one request path
 * (policy applies: it may need approval), and once that run has finished its result is posted in the
 * target's channel and recorded in the audit log.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { userMessageOf } from '../errors.js';
import { backupVerify } from '../runbooks/backup-verify.js';
import { drillNotRunMessage, drillResultMessage, everyLabel } from '../slack/drill-messages.js';
import { audit } from '../store/audit.js';
import { claimFiring, claimReport, getDrill, listDrills, nextFiring, recordFiring, unreportedResults } from '../store/drills.js';
import { TERMINAL } from '../store/runs.js';
import { connectionOptions, type RedisConnection } from './queue.js';
import { submitRequest, type RequestDeps } from './request.js';

export const DRILLS_QUEUE = 'drills';
/** Who drill runs are requested by: the bot itself (never an approver, so policy still needs a human). */
export const DRILL_REQUESTER = 'dbops';
export const drillSchedulerId = (target: string) => `drill:${target}`;

interface DrillJobData {
  target: string;
}

/** One firing. Returns what happened, for logs and tests. */
export async function fireDrill(deps: RequestDeps, target: string, jobId: string): Promise<string> {
  const d = await getDrill(deps.pool, target);
  if (!d) return 'removed'; // turned off since; the next sync removes the scheduler
  // A redelivered job (worker crashed after submitting) must not submit a second run.
  if (!(await claimFiring(deps.pool, target, jobId))) return 'duplicate';
  const t = deps.targets.targets.get(target);
  const channel = t?.incidentChannel ?? deps.targets.incidentChannel;
  const noRun = async (outcome: 'skipped' | 'not started', detail: string) => {
    await recordFiring(deps.pool, target, { outcome, detail });
    await audit(deps.pool, { actor: DRILL_REQUESTER, action: 'drill', target, channel, outcome: outcome === 'skipped' ? 'skipped' : 'failed', detail: { every: everyLabel(d.everyMs), reason: detail } });
    await deps.notifier.post(channel, drillNotRunMessage(target, outcome, detail));
    return outcome;
  };
  const rb = deps.registry.get(backupVerify.name);
  if (!t || !rb) return noRun('not started', `${t ? 'backup verify' : `the target ${target}`} is no longer configured. Remove the drill with \`/db backup drill ${target} --off\`.`);
  if (d.lastRunId && d.runState && !TERMINAL.has(d.runState)) {
    return noRun('skipped', `the previous drill run ${d.lastRunId} is still ${d.runState.replace('_', ' ')}.`);
  }
  try {
    const reply = await submitRequest(deps, { runbook: rb, target: t, args: {}, requester: DRILL_REQUESTER, channel, reason: `scheduled backup drill (every ${everyLabel(d.everyMs)})` });
    if (!reply.run) return noRun('not started', reply.message.text);
    await recordFiring(deps.pool, target, { runId: reply.run.id, outcome: 'submitted' });
    // route: queued, or pending_approval when policy wants a human for "change" (the card is posted then).
    await audit(deps.pool, { actor: DRILL_REQUESTER, action: 'drill', runId: reply.run.id, target, channel, outcome: 'submitted', detail: { every: everyLabel(d.everyMs), route: reply.run.state } });
    return reply.run.state;
  } catch (err) {
    // The plan failed (no dump yet, store unreachable, config): say so where the drill reports.
    deps.log.warn({ target, err: (err as Error).message }, 'backup drill could not start');
    return noRun('not started', userMessageOf(err));
  }
}

/** Posts each finished drill run's result in its target's channel and the audit log, once. */
export async function reportDrillResults(deps: RequestDeps): Promise<number> {
  let n = 0;
  for (const d of await unreportedResults(deps.pool)) {
    if (!d.lastRunId || !d.runState || !(await claimReport(deps.pool, d.target, d.lastRunId, d.runState))) continue;
    const channel = deps.targets.targets.get(d.target)?.incidentChannel ?? deps.targets.incidentChannel;
    await audit(deps.pool, {
      actor: DRILL_REQUESTER,
      action: 'drill_result',
      runId: d.lastRunId,
      target: d.target,
      channel,
      outcome: d.runState,
      detail: d.runState === 'succeeded' ? { headline: d.runHeadline } : { error: d.runError },
    });
    await deps.notifier.post(channel, drillResultMessage(d));
    n++;
  }
  return n;
}

/**
 * Runs on worker processes: fires drills (concurrency 1: firings are short, they only submit runs)
 * and keeps Redis in step with Postgres.
 */
export class DrillScheduler {
  readonly #queue: Queue<DrillJobData>;
  readonly #worker: Worker<DrillJobData>;
  readonly #timer: NodeJS.Timeout;
  readonly #deps: RequestDeps;
  #syncing: Promise<void> | undefined;

  constructor(deps: RequestDeps, conn: RedisConnection, everyMs = 15_000) {
    this.#deps = deps;
    this.#queue = new Queue<DrillJobData>(DRILLS_QUEUE, { connection: connectionOptions(conn.url) as never, prefix: conn.prefix });
    this.#queue.on('error', (err) => deps.log.warn({ err: err.message }, 'drill queue error'));
    this.#worker = new Worker<DrillJobData>(
      DRILLS_QUEUE,
      async (job: Job<DrillJobData>) => ({ outcome: await fireDrill(deps, job.data.target, job.id ?? `${job.data.target}:${job.timestamp}`) }),
      { connection: connectionOptions(conn.url, true) as never, prefix: conn.prefix, concurrency: 1 },
    );
    this.#worker.on('error', (err) => deps.log.error({ err: err.message }, 'drill worker error'));
    this.#worker.on('failed', (job, err) => deps.log.error({ target: job?.data.target, err: err.message }, 'drill firing failed'));
    this.#timer = setInterval(() => void this.sync(), Math.max(everyMs, 1000));
    this.#timer.unref();
  }

  /** Idempotent; overlapping calls share one pass. Failures are logged: the next tick tries again. */
  sync(): Promise<void> {
    this.#syncing ??= this.#sync()
      .catch((err: Error) => this.#deps.log.warn({ err: err.message }, 'drill sync failed; retrying on the next tick'))
      .finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    const drills = await listDrills(this.#deps.pool);
    const want = new Map(drills.map((d) => [drillSchedulerId(d.target), d]));
    const have = new Map((await this.#queue.getJobSchedulers()).map((s) => [s.key, s]));
    for (const id of have.keys()) if (id.startsWith('drill:') && !want.has(id)) await this.#queue.removeJobScheduler(id);
    for (const [id, d] of want) {
      // Same interval: leave it (upserting would not move it, but there is nothing to do). Missing or changed: (re)create it
      // starting at the next firing Postgres expects, so a Redis wipe keeps the drill's phase.
      if (Number(have.get(id)?.every) === d.everyMs) continue;
      await this.#queue.upsertJobScheduler(
        id,
        { every: d.everyMs, startDate: nextFiring(d) },
        { name: 'drill', data: { target: d.target }, opts: { removeOnComplete: { count: 20 }, removeOnFail: { count: 50 } } },
      );
      this.#deps.log.info({ target: d.target, every: everyLabel(d.everyMs), next: nextFiring(d).toISOString() }, have.has(id) ? 'drill rescheduled' : 'drill scheduled');
    }
    await reportDrillResults(this.#deps);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#syncing;
    await this.#worker.close();
    await this.#queue.close();
  }
}
