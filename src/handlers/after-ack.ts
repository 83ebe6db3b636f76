/**
 * The work a command does after its ack (plan, target reads, run and audit rows, the response_url
 * reply) shares the web process's event loop with the acks still to come, and Slack retries any
 * request not acked within 3 s. Under a burst, starting every command's work at once puts each later
 * ack behind hundreds of earlier commands' database round trips (bench/ack.ts: `/db status` p99 at
 * 100–500 concurrent 1.2–1.7× a bare Bolt app's; admitted two at a time, 0.7–1.1×). So the work is
 * admitted a few at a time, in arrival order.
 *
 * A command holds its slot only while it is young: one still running after `youngMs` is waiting on
 * I/O (a slow or hung target), not using the event loop, so it stops counting and the next one
 * starts. A hung target delays the commands queued behind it by `youngMs` each, never until it
 * answers.
 */
export interface AfterAckOptions {
  /** Young commands running at once. */
  concurrency: number;
  youngMs: number;
  /** Told the number waiting for a slot whenever it changes (a gauge). */
  onWaiting?: (n: number) => void;
}

export const AFTER_ACK_DEFAULTS = { concurrency: 2, youngMs: 100 } as const;

export class AfterAck {
  #young = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly opts: AfterAckOptions) {}

  /** Runs `fn` once a slot is free; settles as it does. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#young++;
        let holding = true;
        const release = () => {
          if (!holding) return;
          holding = false;
          this.#young--;
          this.#admit();
        };
        const aged = setTimeout(release, this.opts.youngMs);
        aged.unref();
        fn()
          .then(resolve, reject)
          .finally(() => {
            clearTimeout(aged);
            release();
          });
      };
      if (this.#young < this.opts.concurrency) return start();
      this.#waiting.push(start);
      this.opts.onWaiting?.(this.#waiting.length);
    });
  }

  #admit(): void {
    if (!this.#waiting.length) return;
    while (this.#young < this.opts.concurrency && this.#waiting.length) this.#waiting.shift()!();
    this.opts.onWaiting?.(this.#waiting.length);
  }
}
