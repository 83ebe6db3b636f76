import { createIORedisClient, Queue, RedisConnection as BullConnection, type Telemetry } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ioredisOptions, parseRedisUrl } from '../redis-url.js';

export const RUNS_QUEUE = 'runs';
export const MAINTENANCE_QUEUE = 'maintenance';

export interface RunJobData {
  runId: string;
}

export interface RedisConnection {
  url: string;
  prefix: string;
  /** bullmq-otel when tracing is on (src/tracing.ts): jobs carry the request's trace context. */
  telemetry?: Telemetry;
}

/** Spread into Queue/Worker options: the telemetry option only when tracing is on. */
export const telemetryOf = (conn: RedisConnection): { telemetry?: Telemetry } => (conn.telemetry ? { telemetry: conn.telemetry } : {});

/** Marks cluster options so the client factory below builds an ioredis Cluster from them. */
const CLUSTER_NODES = Symbol('dbops cluster nodes');

/**
 * BullMQ builds its clients from plain options with `new Redis(opts)`, which cannot reach a Cluster;
 * handed a ready Cluster instance instead, it would never close it (and every caller would have to).
 * So options carrying cluster seed nodes get a Cluster from this factory, owned and closed by BullMQ
 * like any other connection; everything else is built exactly as BullMQ does by default. Installed
 * only when a cluster URL is first used, and it defers to a factory someone else installed.
 */
function installClusterFactory(): void {
  const previous = BullConnection.clientFactory;
  if ((previous as { dbops?: true } | undefined)?.dbops) return;
  const factory = (bullOpts: object) => {
    const opts = bullOpts as RedisOptions;
    const nodes = (opts as Record<symbol, unknown>)[CLUSTER_NODES] as { host: string; port: number }[] | undefined;
    if (!nodes) {
      if (previous) return previous(bullOpts as never);
      const { url, ...rest } = opts as RedisOptions & { url?: string };
      return createIORedisClient(url ? new Redis(url, rest) : new Redis(rest));
    }
    const { enableOfflineQueue, retryStrategy, ...redisOptions } = opts;
    return createIORedisClient(
      new Cluster(nodes, {
        redisOptions,
        enableOfflineQueue: enableOfflineQueue ?? true,
        ...(retryStrategy ? { clusterRetryStrategy: retryStrategy as (times: number) => number | void | null } : {}),
      }),
    );
  };
  BullConnection.clientFactory = Object.assign(factory, { dbops: true as const }) as typeof BullConnection.clientFactory;
}

/** BullMQ connection options for REDIS_URL (any form src/redis-url.ts accepts); `worker`: a blocking client. */
export function connectionOptions(redisUrl: string, worker = false): Record<string, unknown> {
  const t = parseRedisUrl(redisUrl);
  const opts: Record<string | symbol, unknown> = {
    ...ioredisOptions(t),
    // Workers block on Redis: BullMQ requires null here so commands wait out reconnects.
    maxRetriesPerRequest: worker ? null : 1,
    enableOfflineQueue: worker,
    connectTimeout: 3000,
  };
  if (t.kind === 'cluster') {
    installClusterFactory();
    opts[CLUSTER_NODES] = t.nodes;
  }
  return opts as Record<string, unknown>;
}

/**
 * The run queue. The job id IS the run id, so enqueueing the same run twice (double click,
 * replica race, re-enqueue after a Redis wipe) is a no-op in BullMQ.
 */
export class RunQueue {
  readonly queue: Queue<RunJobData>;
  constructor(conn: RedisConnection) {
    this.queue = new Queue<RunJobData>(RUNS_QUEUE, { connection: connectionOptions(conn.url) as never, prefix: conn.prefix, ...telemetryOf(conn) });
  }

  async enqueue(runId: string): Promise<void> {
    const existing = await this.queue.getJob(runId);
    if (existing) {
      const state = await existing.getState();
      // A finished job with the same id would swallow the add; only the reconciler calls us in that case
      // (Postgres says the run is not finished), so the stale job record is replaced.
      if (state === 'completed' || state === 'failed') await existing.remove().catch(() => undefined);
      else return;
    }
    await this.queue.add('run', { runId }, { jobId: runId, attempts: 1, removeOnComplete: { age: 86400, count: 1000 }, removeOnFail: { age: 7 * 86400 } });
  }

  /**
   * Enqueue, but never lose the run when Redis is unreachable: the run is already recorded as
   * "queued" in Postgres, and housekeeping re-enqueues it once Redis is back. Returns false then.
   */
  async tryEnqueue(runId: string, log: { warn: (o: object, m: string) => void }): Promise<boolean> {
    try {
      await this.enqueue(runId);
      return true;
    } catch (err) {
      log.warn({ runId, err: (err as Error).message }, 'enqueue failed; the run stays queued in Postgres and is re-enqueued when Redis is back');
      return false;
    }
  }

  /** Readiness: a cheap round trip to Redis, bounded so /readyz answers quickly. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.queue.getJobCounts('wait').then(() => true, () => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
