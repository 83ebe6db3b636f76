import type { WebClient } from '@slack/web-api';
import type { Logger } from '../log.js';

export interface MessageContent {
  text: string;
  blocks?: unknown[];
}

type Op =
  | { kind: 'post'; content: MessageContent; threadTs?: string; broadcast?: boolean; resolve: (ts: string | undefined) => void }
  | { kind: 'update'; ts: string; content: MessageContent; resolve: (ts: string | undefined) => void };

interface ChannelLane {
  ops: Op[];
  /** Earliest time the next call may go out (rate spacing, or a 429's Retry-After). */
  notBefore: number;
  running: boolean;
}

export interface NotifierOptions {
  /** Minimum spacing of calls per channel (Slack: ~1 message/s/channel). Default 1000 ms. */
  minIntervalMs?: number;
  /** Give up on a call after this many 429s/errors. Default 5. */
  maxAttempts?: number;
  /** Workspace-wide spacing of chat.update (Tier 3, ~50/min). Default 1200 ms. */
  updateIntervalMs?: number;
  /** Called on every 429 (metrics). */
  onRateLimited?: () => void;
}

/**
 * All run output goes through here. One lane per channel keeps to ~1 call/s; updates to the same
 * message coalesce (latest value wins, earlier ones are never sent); a 429 delays only that lane by
 * Retry-After. It uses its own WebClient (rejectRateLimitedCalls) so progress never stalls the
 * interactive client Bolt uses for views.open within the 3 s trigger window.
 */
export class Notifier {
  readonly #client: WebClient;
  readonly #log: Logger;
  readonly #minInterval: number;
  readonly #maxAttempts: number;
  readonly #lanes = new Map<string, ChannelLane>();
  readonly #updateInterval: number;
  readonly #onRateLimited: (() => void) | undefined;
  /** chat.update is limited per workspace, not per channel: one clock shared by all lanes. */
  #nextUpdateAt = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(client: WebClient, log: Logger, opts: NotifierOptions = {}) {
    this.#client = client;
    this.#log = log;
    this.#minInterval = opts.minIntervalMs ?? 1000;
    this.#maxAttempts = opts.maxAttempts ?? 5;
    this.#updateInterval = opts.updateIntervalMs ?? Math.max(this.#minInterval, 1200);
    this.#onRateLimited = opts.onRateLimited;
  }

  /** Posts a message (never dropped or merged); resolves with its ts, or undefined if Slack refused it. */
  post(channel: string, content: MessageContent, opts: { threadTs?: string; broadcast?: boolean } = {}): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.#enqueue(channel, { kind: 'post', content, resolve, ...(opts.threadTs ? { threadTs: opts.threadTs } : {}), ...(opts.broadcast ? { broadcast: true } : {}) });
    });
  }

  /** Replaces a message's content; a pending update of the same message is superseded, not sent. */
  update(channel: string, ts: string, content: MessageContent): Promise<string | undefined> {
    return new Promise((resolve) => {
      const lane = this.#lane(channel);
      const pending = lane.ops.find((o): o is Extract<Op, { kind: 'update' }> => o.kind === 'update' && o.ts === ts);
      if (pending) {
        const prevResolve = pending.resolve;
        pending.content = content;
        pending.resolve = (v) => {
          prevResolve(v);
          resolve(v);
        };
        return;
      }
      this.#enqueue(channel, { kind: 'update', ts, content, resolve });
    });
  }

  /**
   * A message only `user` sees, in `channel` (how the requester of an approval-gated run hears what
   * became of it: their request was answered ephemerally). Ephemerals are Tier 4 and are not
   * thread posts, so they skip the channel lanes; a failure is logged, never thrown.
   */
  async ephemeral(channel: string, user: string, content: MessageContent): Promise<boolean> {
    try {
      await this.#client.chat.postEphemeral({ channel, user, text: content.text, ...(content.blocks ? { blocks: content.blocks as never } : {}) });
      return true;
    } catch (err) {
      this.#log.warn({ channel, err: (err as { data?: { error?: string } }).data?.error ?? (err as Error).message }, 'postEphemeral failed');
      return false;
    }
  }

  /** Resolves when every lane is empty (tests, shutdown). */
  idle(): Promise<void> {
    if ([...this.#lanes.values()].every((l) => !l.running && l.ops.length === 0)) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  #lane(channel: string): ChannelLane {
    let lane = this.#lanes.get(channel);
    if (!lane) {
      lane = { ops: [], notBefore: 0, running: false };
      this.#lanes.set(channel, lane);
    }
    return lane;
  }

  #enqueue(channel: string, op: Op): void {
    const lane = this.#lane(channel);
    lane.ops.push(op);
    if (!lane.running) void this.#drain(channel, lane);
  }

  async #drain(channel: string, lane: ChannelLane): Promise<void> {
    lane.running = true;
    try {
      while (lane.ops.length) {
        const wait = lane.notBefore - Date.now();
        if (wait > 0) await sleep(wait);
        if (lane.ops[0]!.kind === 'update') {
          const at = this.#nextUpdateAt;
          this.#nextUpdateAt = Math.max(Date.now(), at) + this.#updateInterval;
          if (at > Date.now()) await sleep(at - Date.now());
        }
        // Shifted only now: updates arriving while we waited were merged into this op.
        const op = lane.ops.shift()!;
        let attempts = 0;
        for (;;) {
          attempts++;
          try {
            const ts = await this.#call(channel, op);
            lane.notBefore = Date.now() + this.#minInterval;
            op.resolve(ts);
            break;
          } catch (err) {
            const e = err as { code?: string; retryAfter?: number; data?: { error?: string } };
            if (e.code === 'slack_webapi_rate_limited_error') this.#onRateLimited?.();
            if (e.code === 'slack_webapi_rate_limited_error' && attempts < this.#maxAttempts) {
              const ms = Math.max(1, e.retryAfter ?? 1) * 1000;
              this.#log.warn({ channel, retryAfterMs: ms }, 'slack rate limited; delaying this channel');
              lane.notBefore = Date.now() + ms;
              await sleep(ms);
              // A newer update for the same message may have been merged into a queued op meanwhile.
              continue;
            }
            this.#log.error({ channel, method: op.kind, error: e.data?.error ?? e.code ?? String(err) }, 'slack call failed');
            lane.notBefore = Date.now() + this.#minInterval;
            op.resolve(undefined);
            break;
          }
        }
      }
    } finally {
      lane.running = false;
      if ([...this.#lanes.values()].every((l) => !l.running && l.ops.length === 0)) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  async #call(channel: string, op: Op): Promise<string | undefined> {
    if (op.kind === 'post') {
      const args: Record<string, unknown> = { channel, text: op.content.text, unfurl_links: false };
      if (op.content.blocks) args.blocks = op.content.blocks;
      if (op.threadTs) args.thread_ts = op.threadTs;
      if (op.broadcast) args.reply_broadcast = true;
      const res = await this.#client.chat.postMessage(args as never);
      return res.ts;
    }
    const args: Record<string, unknown> = { channel, ts: op.ts, text: op.content.text };
    if (op.content.blocks) args.blocks = op.content.blocks;
    await this.#client.chat.update(args as never);
    return op.ts;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
