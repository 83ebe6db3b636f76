import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';

/** What the limiter says about one more request. */
export type RateDecision = { ok: true } | { ok: false; count: number; retryAfterSeconds: number };

export interface RateLimiter {
  take(user: string): Promise<RateDecision>;
}

/**
 * Sliding-window log per user in Redis (a sorted set of request times), so every web replica
 * counts the same requests. Atomic in one script, on Redis' clock (replicas' clocks may differ).
 * Refused requests are not recorded: "try again in S s" is then exactly when a slot frees up.
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, n + 1, 0}
`;

/** How long a Redis round trip may take before the limiter gives up and lets the request through. */
const REDIS_BUDGET_MS = 500;

export class RedisRateLimiter implements RateLimiter {
  #seq = 0;
  constructor(
    private readonly redis: Redis,
    private readonly opts: { max: number; windowMs: number; prefix: string },
    private readonly log: Logger,
  ) {}

  async take(user: string): Promise<RateDecision> {
    if (this.opts.max <= 0) return { ok: true };
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = this.redis.eval(SCRIPT, 1, `${this.opts.prefix}:ratelimit:${user}`, this.opts.windowMs, this.opts.max, `${Date.now()}-${process.pid}-${++this.#seq}`) as Promise<[number, number, number]>;
      const timeout = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_BUDGET_MS} ms`)), REDIS_BUDGET_MS)));
      const [ok, count, retryMs] = await Promise.race([call, timeout]);
      if (ok === 1) return { ok: true };
      return { ok: false, count, retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)) };
    } catch (err) {
      // Fail open on the rate limit only: a Redis outage must not block commands (they are
      // recorded in Postgres and still bounded by the target pools).
      this.log.warn({ err: (err as Error).message, user }, 'rate limit unavailable (Redis); request let through');
      return { ok: true };
    } finally {
      clearTimeout(timer);
    }
  }
}
