import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, Worker, type Job } from 'bullmq';
import type { RunDeps } from './deps.js';
import { executeRun, InterruptedByShutdown, LeaseHeld, PollLater, QueuedBehind } from './execute.js';
import { connectionOptions, RUNS_QUEUE, telemetryOf, type RedisConnection, type RunJobData } from './queue.js';

/** How often a run waiting behind another destructive run on its target checks again. */
const QUEUED_RECHECK_MS = 1000;

export interface WorkerOptions {
  concurrency?: number;
  /** BullMQ lock and run lease; a dead worker's run is taken over after about this long. Default 30 s. */
  lockDurationMs?: number;
  /** How long SIGTERM waits for running steps before interrupting them (they resume elsewhere). */
  shutdownGraceMs?: number;
}

/**
 * BullMQ worker for runs. Postgres holds the step cursor and the run's lease; BullMQ delivers jobs
 * and re-delivers a SIGKILLed worker's job, whose run the next worker claims once the lease has
 * expired and continues at its step. BullMQ's own lock is not trusted for exclusivity: Redis may
 * lose it.
 */
export class RunWorker {
  readonly worker: Worker<RunJobData>;
  readonly #shutdown = new AbortController();
  readonly #grace: number;

  constructor(deps: RunDeps, conn: RedisConnection, opts: WorkerOptions = {}) {
    this.#grace = opts.shutdownGraceMs ?? 25_000;
    const lockDuration = opts.lockDurationMs ?? 30_000;
    const exec = { owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`, leaseMs: lockDuration };
    this.worker = new Worker<RunJobData>(
      RUNS_QUEUE,
      async (job: Job<RunJobData>, token?: string) => {
        try {
          const run = await executeRun(deps, job.data.runId, this.#shutdown.signal, exec);
          return { state: run?.state ?? 'missing' };
        } catch (err) {
          if (err instanceof PollLater && token) {
            // Step-job pattern: a long wait (cloud snapshot, restore) holds no worker slot between looks.
            await job.moveToDelayed(Date.now() + err.afterMs, token);
            throw new DelayedError();
          }
          if (err instanceof QueuedBehind && token) {
            // Waiting in line behind another destructive run on the target; look again shortly.
            await job.moveToDelayed(Date.now() + QUEUED_RECHECK_MS, token);
            throw new DelayedError();
          }
          if (err instanceof LeaseHeld && token) {
            // Someone else executes this run (a duplicate job, or a worker that lost Redis but not its
            // lease): stand down, and look again when that lease would expire in case its holder died.
            await job.moveToDelayed(Math.max(err.until.getTime(), Date.now()) + 250, token);
            throw new DelayedError();
          }
          if (err instanceof InterruptedByShutdown && token) {
            // Step-job pattern: hand the job back (delayed 1 s) instead of failing it.
            await job.moveToDelayed(Date.now() + 1000, token);
            throw new DelayedError();
          }
          throw err;
        }
      },
      {
        connection: connectionOptions(conn.url, true) as never,
        prefix: conn.prefix,
        ...telemetryOf(conn),
        concurrency: opts.concurrency ?? 4,
        lockDuration,
        stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
        // A run may be interrupted by several crashes in a row; Postgres prevents double execution.
        maxStalledCount: 5,
        autorun: true,
      },
    );
    this.worker.on('error', (err) => deps.log.error({ err: err.message }, 'worker error'));
    this.worker.on('failed', (job, err) => deps.log.error({ runId: job?.data.runId, err: err.message }, 'run job failed'));
  }

  /** Stop taking jobs, let running steps finish within the grace period, then interrupt them. */
  async close(): Promise<void> {
    const closing = this.worker.close();
    const timer = setTimeout(() => this.#shutdown.abort(), this.#grace);
    try {
      await closing;
    } finally {
      clearTimeout(timer);
    }
  }
}
