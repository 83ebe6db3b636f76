import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type MetricsSource = () => Promise<{ contentType: string; body: string }>;

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** GET /metrics; with a token, only for `Authorization: Bearer <token>` (401 otherwise). */
export function metricsHandler(source: MetricsSource, token: string | undefined) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="dbops metrics"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'metrics need Authorization: Bearer <DBOPS_METRICS_TOKEN>' }));
      return;
    }
    source().then(
      (m) => {
        res.writeHead(200, { 'content-type': m.contentType });
        res.end(m.body);
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false }));
      },
    );
  };
}

/** Liveness and readiness, for processes without the Slack endpoint (a worker) to be probed. */
export interface ProbeSource {
  ready: () => Promise<{ ok: boolean; checks: Record<string, boolean> }>;
  draining: () => boolean;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * DBOPS_METRICS_PORT: /metrics on its own port (e.g. reachable only from the scraper's network),
 * with /healthz and /readyz next to it: a `--role worker` process serves nothing else, and its
 * orchestrator needs something to probe.
 */
export function startMetricsServer(port: number, source: MetricsSource, token: string | undefined, probes?: ProbeSource): Promise<Server> {
  const handle = metricsHandler(source, token);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/metrics') return handle(req, res);
    if (req.method === 'GET' && probes && path === '/healthz') return json(res, 200, { ok: true });
    if (req.method === 'GET' && probes && path === '/readyz') {
      if (probes.draining()) return json(res, 503, { ok: false, draining: true });
      probes.ready().then(
        (r) => json(res, r.ok ? 200 : 503, r),
        () => json(res, 503, { ok: false }),
      );
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
