import { Queue, Worker } from 'bullmq';
import { expireDue } from '../approvals/service.js';
import { expiryMinutes } from '../approvals/policy.js';
import { approvalCard } from '../slack/messages.js';
import { tellRequester } from './notify-requester.js';
import { failAbandonedReads, runsToEnqueue } from '../store/runs.js';
import type { RunDeps } from './deps.js';
import { connectionOptions, MAINTENANCE_QUEUE, telemetryOf, type RedisConnection, type RunQueue } from './queue.js';

/**
 * A BullMQ job scheduler runs housekeeping every `everyMs`, on exactly one worker at a time:
 * expire stale approval requests (and say so on their cards), and re-enqueue runs Postgres says
 * are queued, or running with an expired lease, that Redis has lost (Postgres is the source of
 * truth; a run whose executor still holds its lease is never re-enqueued).
 */
export class Housekeeping {
  readonly #queue: Queue;
  readonly #worker: Worker;
  readonly #timer: NodeJS.Timeout;

  constructor(deps: RunDeps, runs: RunQueue, conn: RedisConnection, everyMs = 15_000) {
    this.#queue = new Queue(MAINTENANCE_QUEUE, { connection: connectionOptions(conn.url) as never, prefix: conn.prefix, ...telemetryOf(conn) });
    this.#worker = new Worker(
      MAINTENANCE_QUEUE,
      async () => {
        const expired = await sweep(deps, runs);
        return { expired };
      },
      { connection: connectionOptions(conn.url, true) as never, prefix: conn.prefix, concurrency: 1, ...telemetryOf(conn) },
    );
    this.#worker.on('error', (err) => deps.log.error({ err: err.message }, 'housekeeping worker error'));
    // An EventEmitter 'error' without a listener throws: a Redis blip must not take the process down.
    this.#queue.on('error', (err) => deps.log.warn({ err: err.message }, 'housekeeping queue error'));
    const schedule = () =>
      this.#queue
        .upsertJobScheduler('housekeeping', { every: everyMs }, { name: 'housekeeping', opts: { removeOnComplete: true, removeOnFail: 50 } })
        .catch((err: Error) => deps.log.warn({ err: err.message }, 'could not (re)schedule housekeeping; retrying'));
    void schedule();
    // Idempotent upsert, repeated: if Redis lost its data the schedule comes back with it.
    this.#timer = setInterval(() => void schedule(), Math.max(everyMs, 1000));
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#worker.close();
    await this.#queue.close();
  }
}

function expiryMinutesOf(deps: RunDeps, run: { target: string }): number | undefined {
  const t = deps.targets.targets.get(run.target);
  return t ? expiryMinutes(t) : undefined;
}

export async function sweep(deps: RunDeps, runs: RunQueue): Promise<number> {
  const expired = await expireDue(deps.pool);
  for (const run of expired) {
    if (run.cardChannel && run.cardTs) void deps.notifier.update(run.cardChannel, run.cardTs, approvalCard(run, { approvedBy: [], note: 'nobody approved in time — request again if still needed' }));
    void tellRequester(deps, run, { kind: 'expired', minutes: expiryMinutesOf(deps, run) });
  }
  await failAbandonedReads(deps.pool);
  for (const id of await runsToEnqueue(deps.pool)) await runs.enqueue(id);
  return expired.length;
}
