import pg from 'pg';
import { timeQueries } from './query-timing.js';

/**
 * One small pg.Pool per target, shared by everything in this process that touches the target
 * (request-time reads, plans, the kill preview, run steps). It bounds the bot's own load: at most
 * `maxBotSessions` target sessions per bot process, whatever the request rate.
 *
 * pg.Pool waits FIFO, so a gate of the same size sits in front of it to give run steps priority:
 * - steps (`use: 'step'`) are served before any waiting read, so a flood of `/db status` cannot
 *   starve an approved run, and a VACUUM step's second session (work + progress poll) comes from the
 *   first slot that frees up. A target needs maxBotSessions >= 2 for that (enforced by the config).
 * - reads (`use: 'read'`) wait at most READ_WAIT_MS, then get a clear "busy, try again" error.
 * - Several runs' VACUUM steps on one target could each hold one session and wait for a second
 *   (hold and wait). Steps therefore wait without a deadline while sessions keep being released, but
 *   fail with "busy" after STEP_STALL_MS in which no session of this target was released at all: a
 *   stall, never a silent deadlock. Size maxBotSessions to 2 × the VACUUMs you run at once on it.
 */
export type SessionUse = 'step' | 'read';

export const READ_WAIT_MS = 20_000;
export const STEP_STALL_MS = 60_000;
/** Limits every pooled session starts with (startup options); a checkout asking others SETs them. */
export const POOL_STATEMENT_TIMEOUT_MS = 15_000;
export const POOL_LOCK_TIMEOUT_MS = 5_000;

interface Waiter {
  use: SessionUse;
  grant: () => void;
  fail: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class BusyError extends Error {
  constructor(readonly use: SessionUse) {
    super(`all pooled sessions busy (${use})`);
    this.name = 'BusyError';
  }
}

export class TargetPool {
  readonly pool: pg.Pool;
  #free: number;
  readonly #waiters: Waiter[] = [];

  constructor(
    url: string,
    readonly max: number,
    applicationName: string,
    opts: { connectTimeoutMs?: number; idleTimeoutMs?: number; readWaitMs?: number; stepStallMs?: number } = {},
  ) {
    this.#free = max;
    this.readWaitMs = opts.readWaitMs ?? READ_WAIT_MS;
    this.stepStallMs = opts.stepStallMs ?? STEP_STALL_MS;
    this.pool = new pg.Pool({
      connectionString: url,
      max,
      application_name: applicationName,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      // Idle sessions close after a while: an idle bot holds no slots on the target.
      idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
      allowExitOnIdle: true,
      options: `-c statement_timeout=${POOL_STATEMENT_TIMEOUT_MS} -c lock_timeout=${POOL_LOCK_TIMEOUT_MS}`,
    });
    // An idle session whose server goes away emits 'error' on the pool; the pool drops it.
    this.pool.on('error', () => undefined);
    // Query latency on targets for /metrics (query-timing.ts); costs nothing without observers.
    this.pool.on('connect', (client) => timeQueries(client, url));
  }

  readonly readWaitMs: number;
  readonly stepStallMs: number;

  /** Sessions checked out or being opened right now. */
  get inUse(): number {
    return this.max - this.#free;
  }

  /** Waits for a slot (steps first); resolves with a function that gives it back. */
  acquire(use: SessionUse): Promise<() => void> {
    const stepsWaiting = this.#waiters.some((w) => w.use === 'step');
    if (this.#free > 0 && (use === 'step' || !stepsWaiting)) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        use,
        grant: () => {
          clearTimeout(w.timer);
          resolve(this.#releaser());
        },
        fail: reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new BusyError(use));
        }, use === 'read' ? this.readWaitMs : this.stepStallMs),
      };
      this.#waiters.push(w);
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      // A release is progress: steps still waiting get a fresh stall window.
      for (const w of this.#waiters) if (w.use === 'step') w.timer.refresh();
      const i = this.#waiters.findIndex((w) => w.use === 'step');
      const next = i >= 0 ? this.#waiters.splice(i, 1)[0] : this.#waiters.shift();
      if (next) next.grant();
      else this.#free++;
    };
  }

  async end(): Promise<void> {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.fail(new BusyError(w.use));
    }
    await this.pool.end().catch(() => undefined);
  }
}

const pools = new Map<string, TargetPool>();
let holders = 0;

/** The pool for a target (created on first use), keyed by its connection string and size. */
export function poolFor(url: string, max: number, applicationName: string): TargetPool {
  const key = `${max}\u0000${url}`;
  let p = pools.get(key);
  if (!p) {
    p = new TargetPool(url, max, applicationName);
    pools.set(key, p);
  }
  return p;
}

/**
 * A running bot holds the pools while it runs; the last one to stop closes them (tests run several
 * bots in one process, one after another or side by side).
 */
export function holdTargetPools(): () => Promise<void> {
  holders++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--holders > 0) return;
    const all = [...pools.values()];
    pools.clear();
    await Promise.all(all.map((p) => p.end()));
  };
}
