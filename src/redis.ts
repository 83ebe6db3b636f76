import { Cluster, Redis } from 'ioredis';
import type { Logger } from './log.js';
import { ioredisOptions, parseRedisUrl } from './redis-url.js';

/**
 * The web role's own small Redis client for per-request keys (rate limit, replay guard). BullMQ's
 * connection sits behind its backend adapter, so this is a plain ioredis client with the queue's
 * non-blocking options: no offline queue, one retry, so an outage fails commands fast (callers fail
 * open or fall back) instead of making Slack requests wait. Same REDIS_URL forms as the queue
 * (src/redis-url.ts): one server, Sentinel, or Cluster.
 */
export function openEdgeRedis(url: string, log: Logger): Redis {
  const t = parseRedisUrl(url);
  const opts = { ...ioredisOptions(t), maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000 };
  // Callers use single-key commands only (SET NX, one-key EVAL), which a Cluster routes like a
  // server, so a Cluster stands in for the Redis type they are written against.
  const r = t.kind === 'cluster' ? (new Cluster(t.nodes, { redisOptions: opts, enableOfflineQueue: false }) as unknown as Redis) : new Redis({ ...opts, lazyConnect: false });
  let reported = false;
  r.on('error', (err: Error) => {
    if (!reported) log.warn({ err: err.message }, 'edge redis connection error');
    reported = true;
  });
  r.on('ready', () => (reported = false));
  return r;
}
