import type { Server } from 'node:http';
import { WebClient } from '@slack/web-api';
import { buildApp, registerHandlers } from './app.js';
import { ApproverDirectory } from './approvals/usergroups.js';
import { metadataSealerFor } from './slack/metadata.js';
import type { AppConfig } from './config.js';
import type { HandlerDeps } from './handlers/deps.js';
import { AFTER_ACK_DEFAULTS, AfterAck, type AfterAckOptions } from './handlers/after-ack.js';
import { DrillScheduler } from './jobs/drills.js';
import { Housekeeping, sweep } from './jobs/maintenance.js';
import { RunQueue } from './jobs/queue.js';
import { RunWorker } from './jobs/worker.js';
import { createLogger, type Logger } from './log.js';
import { defaultRegistry } from './runbooks/index.js';
import { Notifier } from './slack/notifier.js';
import { Metrics } from './metrics.js';
import { openStatePool } from './store/db.js';
import { DbopsError } from './errors.js';
import { migrate } from './store/migrations.js';
import type { Redis } from 'ioredis';
import { RedisRateLimiter } from './jobs/rate-limit.js';
import { startMetricsServer } from './metrics-http.js';
import { holdTargetPools } from './postgres/pool.js';
import { openEdgeRedis } from './redis.js';
import { describeRedis, parseRedisUrl } from './redis-url.js';
import { ReplayGuard } from './replay-guard.js';
import type { Telemetry } from 'bullmq';
import { adminConfigured, startAdminBoard, type AdminBoard } from './admin/board.js';
import { observeTargetQueries } from './postgres/query-timing.js';
import { LiveTargets } from './targets-live.js';
import { RUNS_QUEUE } from './jobs/queue.js';

export type Role = 'all' | 'web' | 'worker';

export interface StartOptions {
  role?: Role;
  logger?: Logger;
  /** BullMQ lock duration; a dead worker's run is picked up after about this long. */
  lockDurationMs?: number;
  shutdownGraceMs?: number;
  housekeepingEveryMs?: number;
  /** Spacing of run output per channel and of chat.update workspace-wide (tests shorten it). */
  notifierIntervalMs?: number;
  /** Jobs one worker process executes at once (default 4); parked (polling) runs hold none. */
  workerConcurrency?: number;
  /** bullmq-otel from src/tracing.ts when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  telemetry?: Telemetry;
  /** How commands' work after their ack is admitted (src/handlers/after-ack.ts); tests widen the window. */
  afterAck?: Pick<AfterAckOptions, 'concurrency' | 'youngMs'>;
}

export interface RunningBot {
  port: number;
  url: string;
  /** Where /metrics is served when DBOPS_METRICS_PORT is set. */
  metricsPort?: number;
  /** Re-reads the targets file (SIGHUP): false, and the old targets kept, when it does not validate. */
  reloadTargets: () => boolean;
  stop: () => Promise<void>;
}

/**
 * Starts dbops: state DB (migrated), queue, and — by role — the Bolt app (web) and the run worker.
 * The public entry point for main.ts and the sandbox.
 */
export async function startBot(config: AppConfig, opts: StartOptions = {}): Promise<RunningBot> {
  const role = opts.role ?? 'all';
  const log = opts.logger ?? createLogger();
  const pool = await openStatePool(config.databaseUrl, { create: config.createDatabase });
  await migrate(pool);
  const conn = { url: config.redisUrl, prefix: config.queuePrefix, ...(opts.telemetry ? { telemetry: opts.telemetry } : {}) };
  const queue = new RunQueue(conn);
  // Before start-up succeeds, an unreachable Redis is reported once (below), not once per retry.
  let up = false;
  queue.queue.on('error', (err) => up && log.warn({ err: err.message }, 'redis connection error'));
  if (!(await queue.ping(3000))) {
    await queue.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    // describeRedis: Sentinel/Cluster URLs list several hosts and are not WHATWG URLs.
    throw new DbopsError('config', `REDIS_URL: cannot reach Redis at ${describeRedis(parseRedisUrl(config.redisUrl))}. Start Redis or point REDIS_URL at it.`);
  }
  const apiOpts = config.slackApiUrl ? { slackApiUrl: config.slackApiUrl } : {};
  // Progress has its own client that rejects (not waits on) rate limits: the notifier reschedules.
  const progressClient = new WebClient(config.slackBotToken, { ...apiOpts, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  const metrics = new Metrics({ defaults: true });
  const notifier = new Notifier(progressClient, log, { onRateLimited: () => metrics.slackRateLimited.inc(), ...(opts.notifierIntervalMs !== undefined ? { minIntervalMs: opts.notifierIntervalMs, updateIntervalMs: opts.notifierIntervalMs } : {}) });
  const interactive = new WebClient(config.slackBotToken, { ...apiOpts, retryConfig: { retries: 2 } });
  const registry = defaultRegistry();
  const permalink = async (channel: string, ts: string) => {
    try {
      return (await interactive.chat.getPermalink({ channel, message_ts: ts })).permalink;
    } catch {
      return undefined;
    }
  };
  // Swapped by reloadTargets(); workers keep seeing a target a reload removed (its runs finish).
  const live = new LiveTargets(config.targets);
  const base = { pool, registry, targets: live.runView, notifier, log, metrics, permalink };
  const stopQueryTiming = observeTargetQueries((url, seconds, ok) => {
    let target = 'other';
    for (const t of live.current.targets.values()) if (t.url === url) target = t.name;
    metrics.targetQuerySeconds.observe({ target, outcome: ok ? 'ok' : 'error' }, seconds);
  });
  let draining = false;
  // Target session pools (src/postgres/pool.ts) live while this bot runs; closed by stop().
  const releaseTargetPools = holdTargetPools();
  const metricsSource = async () => {
    const counts = await queue.queue.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => ({}) as Record<string, number>);
    for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ state }, n);
    // Oldest first (asc): how long the head of the line has waited for a worker.
    const [oldest] = await queue.queue.getJobs(['wait', 'prioritized'], 0, 0, true).catch(() => []);
    metrics.queueOldestWaitingSeconds.set({ queue: RUNS_QUEUE }, oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
    return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
  };
  let metricsServer: Server | undefined;
  // Probes on the metrics port too: a worker has no other HTTP server.
  const ready = async () => {
    const [redis, db] = await Promise.all([queue.ping(), pool.query('SELECT 1').then(() => true, () => false)]);
    return { ok: redis && db, checks: { redis, stateDb: db } };
  };
  if (config.metricsPort !== undefined) metricsServer = await startMetricsServer(config.metricsPort, metricsSource, config.metricsToken, { ready, draining: () => draining });

  let worker: RunWorker | undefined;
  let housekeeping: Housekeeping | undefined;
  let drills: DrillScheduler | undefined;
  if (role !== 'web') {
    worker = new RunWorker(base, conn, {
      ...(opts.lockDurationMs ? { lockDurationMs: opts.lockDurationMs } : {}),
      ...(opts.shutdownGraceMs ? { shutdownGraceMs: opts.shutdownGraceMs } : {}),
      ...(opts.workerConcurrency ? { concurrency: opts.workerConcurrency } : {}),
    });
    housekeeping = new Housekeeping(base, queue, conn, opts.housekeepingEveryMs);
    // Re-enqueue what Postgres says is pending (Redis may have been wiped while we were down).
    await sweep(base, queue).catch((err) => log.error({ err: (err as Error).message }, 'initial sweep failed'));
    // Backup drills: schedulers re-upserted from Postgres now and on every housekeeping tick.
    drills = new DrillScheduler({ ...base, queue }, conn, opts.housekeepingEveryMs);
    await drills.sync();
  }

  let server: Server | undefined;
  let port = config.port;
  let app: ReturnType<typeof buildApp> | undefined;
  let edgeRedis: Redis | undefined;
  let admin: AdminBoard | undefined;
  if (role !== 'worker') {
    edgeRedis = openEdgeRedis(config.redisUrl, log);
    if (config.admin && adminConfigured(config.admin)) admin = await startAdminBoard({ url: config.redisUrl, prefix: config.queuePrefix }, config.admin, log);
    app = buildApp(
      config,
      log,
      {
        draining: () => draining,
        metrics: metricsSource,
        ready,
      },
      { replay: new ReplayGuard(edgeRedis, config.queuePrefix, log), ...(admin ? { admin } : {}), onAck: (kind, seconds) => metrics.ackSeconds.observe({ kind }, seconds) },
    );
    const limits = {
      rate: new RedisRateLimiter(edgeRedis, { ...config.rateLimit, prefix: config.queuePrefix }, log),
      rateWindowMs: config.rateLimit.windowMs,
      maxPendingApprovals: config.maxPendingApprovals,
    };
    const afterAck = new AfterAck({ ...(opts.afterAck ?? AFTER_ACK_DEFAULTS), onWaiting: (n) => metrics.commandsWaiting.set(n) });
    const deps: HandlerDeps = { ...base, targets: live.view, queue, limits, client: interactive, directory: new ApproverDirectory(interactive, log), metadata: metadataSealerFor(config), afterAck };
    registerHandlers(app, deps);
    const started = (await app.start(config.port)) as unknown;
    if (started && typeof (started as Server).address === 'function') {
      server = started as Server;
      const addr = server.address();
      if (addr && typeof addr === 'object') port = addr.port;
    }
  }
  up = true;
  log.info({ role, port }, 'dbops started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      draining = true;
      if (app) await app.stop().catch(() => undefined);
      if (worker) await worker.close();
      if (housekeeping) await housekeeping.close().catch(() => undefined);
      if (drills) await drills.close().catch(() => undefined);
      await notifier.idle();
      await queue.close().catch(() => undefined);
      if (edgeRedis) await edgeRedis.quit().catch(() => edgeRedis?.disconnect());
      if (admin) await admin.close();
      stopQueryTiming();
      if (metricsServer) await new Promise((r) => metricsServer!.close(r));
      await releaseTargetPools();
      await pool.end().catch(() => undefined);
      log.info('dbops stopped');
    })());
  const mAddr = metricsServer?.address();
  const reloadTargets = () => live.reload(config.targetsPath, process.env, log);
  return { port, url: `http://127.0.0.1:${port}`, stop, reloadTargets, ...(mAddr && typeof mAddr === 'object' ? { metricsPort: mAddr.port } : {}) };
}
