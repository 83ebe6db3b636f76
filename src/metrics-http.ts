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

/** DBOPS_METRICS_PORT: /metrics on its own port (e.g. reachable only from the scraper's network). */
export function startMetricsServer(port: number, source: MetricsSource, token: string | undefined): Promise<Server> {
  const handle = metricsHandler(source, token);
  const server = createServer((req, res) => {
    if (req.method === 'GET' && new URL(req.url ?? '/', 'http://localhost').pathname === '/metrics') return handle(req, res);
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
