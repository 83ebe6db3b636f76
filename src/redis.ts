import { Redis } from 'ioredis';
import { connectionOptions } from './jobs/queue.js';
import type { Logger } from './log.js';

/**
 * The web role's own small Redis client for per-request keys (rate limit, replay guard). BullMQ's
 * connection sits behind its backend adapter, so this is a plain ioredis client with the queue's
 * non-blocking options: no offline queue, one retry, so an outage fails commands fast (callers fail
 * open or fall back) instead of making Slack requests wait.
 */
export function openEdgeRedis(url: string, log: Logger): Redis {
  const r = new Redis({ ...(connectionOptions(url) as object), lazyConnect: false });
  let reported = false;
  r.on('error', (err: Error) => {
    if (!reported) log.warn({ err: err.message }, 'edge redis connection error');
    reported = true;
  });
  r.on('ready', () => (reported = false));
  return r;
}
