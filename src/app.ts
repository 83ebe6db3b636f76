import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebClient } from '@slack/web-api';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { AppConfig } from './config.js';
import { registerActions } from './handlers/actions.js';
import { registerCommand } from './handlers/command.js';
import type { HandlerDeps } from './handlers/deps.js';
import { registerModals } from './handlers/modals.js';
import { registerKillModal } from './handlers/kill-modal.js';
import { registerRestoreModal } from './handlers/restore-modal.js';
import { registerRunControl } from './handlers/run-control.js';
import { Routes } from './handlers/routes.js';
import type { Logger } from './log.js';
import { onceAuthorize } from './slack/identity.js';
import { DbopsError } from './errors.js';
import { guardSlackEndpoint, MAX_SLACK_BODY_BYTES } from './http-edge.js';
import { metricsHandler } from './metrics-http.js';
import { REPLAY_VERDICT, type ReplayGuard } from './replay-guard.js';
import { timeAcks } from './ack-timer.js';
import { JSON_ACK } from './slack/ack-body.js';
import { adminRoutes, type AdminBoard } from './admin/board.js';
import type { AckKind } from './metrics.js';


export interface Health {
  ready: () => Promise<{ ok: boolean; checks: Record<string, boolean> }>;
  /** Set on SIGTERM: readiness fails so load balancers stop sending commands. */
  draining: () => boolean;
  /** Prometheus text exposition. */
  metrics: () => Promise<{ contentType: string; body: string }>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Bolt's logger interface, backed by pino (and so by its redaction). */
function boltLogger(log: Logger) {
  const l = log.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  return {
    // Bolt logs at debug several times per request: nothing is formatted unless debug is on.
    debug: (...m: unknown[]) => void (l.isLevelEnabled('debug') && l.debug(m.map(String).join(' '))),
    info: (...m: unknown[]) => l.info(m.map(String).join(' ')),
    warn: (...m: unknown[]) => l.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => l.error(m.map((x) => (x instanceof Error ? x.message : String(x))).join(' ')),
    setLevel: (v: LogLevel) => void (level = v),
    getLevel: () => level,
    setName: () => undefined,
  };
}

const SLACK_ENDPOINTS = ['/slack/events'];

/**
 * The Bolt app: HTTP receiver (signature-verified POST /slack/events, behind the checks of
 * http-edge.ts) or Socket Mode when an app token is set; /healthz and /readyz are served on the same
 * port either way. /metrics is served here only with DBOPS_METRICS_TOKEN and no DBOPS_METRICS_PORT
 * (then it is on its own port, see bot.ts); with neither it is not served at all.
 */
export function buildApp(
  config: AppConfig,
  log: Logger,
  health: Health,
  edge: { replay: ReplayGuard; admin?: AdminBoard; onAck?: (kind: AckKind, seconds: number) => void },
): InstanceType<typeof App> {
  const customRoutes = [
    { path: '/healthz', method: ['GET'], handler: (_req: IncomingMessage, res: ServerResponse) => json(res, 200, { ok: true }) },
    {
      path: '/readyz',
      method: ['GET'],
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        if (health.draining()) return json(res, 503, { ok: false, draining: true });
        health.ready().then(
          (r) => json(res, r.ok ? 200 : 503, r),
          () => json(res, 503, { ok: false }),
        );
      },
    },
    ...(config.metricsToken && config.metricsPort === undefined ? [{ path: '/metrics', method: ['GET'], handler: metricsHandler(health.metrics, config.metricsToken) }] : []),
    // Bull Board (src/admin), only when credentials are configured: otherwise Bolt's 404.
    ...(edge.admin ? adminRoutes(edge.admin) : []),
  ];
  const clientOptions = { ...(config.slackApiUrl ? { slackApiUrl: config.slackApiUrl } : {}), retryConfig: { retries: 2, factor: 1.5 } };
  // One auth.test for the process, not one per request (see slack/identity.ts); warmed up now,
  // but start-up does not wait for (or depend on) Slack answering it.
  const identity = onceAuthorize(new WebClient(config.slackBotToken, clientOptions), config.slackBotToken, log);
  identity.warmUp();
  const common = {
    authorize: identity.authorize,
    // No conversation state is kept between requests: Bolt's store would cost every ack a lookup.
    convoStore: false as const,
    logger: boltLogger(log) as never,
    clientOptions,
  };
  if (config.slackAppToken) {
    return new App({ ...common, customRoutes, socketMode: true, appToken: config.slackAppToken, installerOptions: { port: config.port } });
  }
  // Never a default secret: an HTTP endpoint without one would accept forged commands.
  if (!config.slackSigningSecret) throw new DbopsError('config', 'SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  const receiver = new HTTPReceiver({
    signingSecret: config.slackSigningSecret,
    endpoints: SLACK_ENDPOINTS,
    customRoutes,
    logger: common.logger,
    // Also Bolt's own cap, should anything reach it unguarded.
    bodyLimit: MAX_SLACK_BODY_BYTES,
    // The edge (guardSlackEndpoint, below) verifies every request to these endpoints before Bolt
    // sees it and refuses unsigned ones; Bolt checking again would only double the ack path's hashing.
    signatureVerification: false,
    // The edge's cross-replica replay check (handlers/replay-gate.ts) and JSON-ack hook
    // (slack/ack-body.ts), into the listeners' context.
    customPropertiesExtractor: (req: IncomingMessage) => {
      const r = req as unknown as Record<string, unknown>;
      return r[REPLAY_VERDICT] ? { [REPLAY_VERDICT]: r[REPLAY_VERDICT], [JSON_ACK]: r[JSON_ACK] } : {};
    },
  });
  // The server HTTPReceiver.start() creates calls requestListener; the guard runs first.
  const guarded = guardSlackEndpoint(receiver.requestListener, { signingSecret: config.slackSigningSecret, endpoints: SLACK_ENDPOINTS, replay: edge.replay, log });
  // Ack latency is timed outside the guard, so its body read and checks count too.
  receiver.requestListener = edge.onAck ? timeAcks(guarded, SLACK_ENDPOINTS, edge.onAck) : guarded;
  return new App({ ...common, receiver });
}

export function registerHandlers(app: InstanceType<typeof App>, deps: HandlerDeps): void {
  const routes = new Routes();
  registerCommand(routes, deps);
  registerActions(routes, deps);
  registerModals(routes, deps);
  registerKillModal(routes, deps);
  registerRestoreModal(routes, deps);
  registerRunControl(routes, deps);
  routes.mount(app);
  app.error(async (err) => {
    deps.log.error({ err: err.message, code: (err as { code?: string }).code }, 'unhandled bolt error');
  });
}
