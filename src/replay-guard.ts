import type { Redis } from 'ioredis';
import type { Logger } from './log.js';

/** Longer than the ±5 min a signed request is accepted for, so a replay always finds its mark. */
const TTL_SECONDS = 600;

/**
 * Where the edge leaves the cross-replica check for Bolt's context (HTTPReceiver's
 * customPropertiesExtractor): a `() => Promise<boolean>` (asked once, on first call), true when this
 * request was seen first here.
 */
export const REPLAY_VERDICT = 'dbopsFirstSeen';
const MAX_LOCAL = 20_000;

/**
 * Remembers signed requests already handled, so a replay of the same signed interaction (same
 * signature, hence same timestamp and body) is a no-op. Two layers: an in-process LRU (catches
 * replays to this replica even while Redis is down) and Redis `SET NX EX 600` (catches replays sent
 * to another web replica). A Redis error falls back to the local layer only, and is logged.
 */
export class ReplayGuard {
  readonly #local = new Map<string, number>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /** This replica only, synchronously: true the first time (and marks it seen). */
  firstSeenHere(signature: string, timestamp: string): boolean {
    const key = `${timestamp}:${signature}`;
    const now = Date.now();
    const seen = this.#local.get(key);
    if (seen !== undefined && now - seen < TTL_SECONDS * 1000) return false;
    this.#local.set(key, now);
    if (this.#local.size > MAX_LOCAL) this.#local.delete(this.#local.keys().next().value!);
    return true;
  }

  /** Every replica (Redis SET NX): true the first time. Never rejects; Redis down counts as first. */
  async firstSeenAnywhere(signature: string, timestamp: string): Promise<boolean> {
    const key = `${timestamp}:${signature}`;
    if (!this.redis) return true;
    try {
      const r = await withTimeout(this.redis.set(`${this.prefix}:seen:${key}`, '1', 'EX', TTL_SECONDS, 'NX'), 500);
      return r === 'OK';
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'replay guard: Redis unavailable, checking this replica only');
      return true;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
