// The page's server (node:http, 127.0.0.1 only): static files, GET /api/state (a snapshot),
// GET /api/events (server-sent events) and POST /api/<route> for what the page does.
// POSTs must be JSON from this origin, so another site cannot drive the bot through a browser.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeSlack } from '../fake-slack/server.js';
import type { DemoSessions } from '../demo-sessions.js';
import type { DemoUser } from '../workspace.js';
import { SandboxApi, SLACKBOT, type ApiDeps } from './api.js';
import { EventHub } from './sse.js';
import { serveStatic } from './static.js';

export interface WebOptions extends Omit<ApiDeps, 'userIds'> {
  publicDir: string;
  users: readonly DemoUser[];
  approvers: readonly string[];
  /** Shown on the page: what the state database keeps from earlier sessions (none: started clean). */
  historyNote?: string;
  /** First port to try; the next ones are tried when taken. 0 picks any free port. */
  port?: number;
  host?: string;
}

export interface RunningWeb {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 256 * 1024;

export async function startWebServer(o: WebOptions): Promise<RunningWeb> {
  const hub = new EventHub();
  const api = new SandboxApi({ fake: o.fake, wire: o.wire, demo: o.demo, userIds: new Set(o.users.map((u) => u.id)) });
  const unsubscribe = follow(o.fake, o.demo, hub);
  const host = o.host ?? '127.0.0.1';
  let origin = '';
  const server = createServer((req, res) => {
    void route(req, res).catch((err) => json(res, 500, { ok: false, error: String((err as Error).message ?? err) }));
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    if (!sameHost(req.headers.host, url.port)) return json(res, 421, { ok: false, error: 'wrong host' });
    if (req.method === 'GET' && url.pathname === '/api/state') return json(res, 200, snapshot(o));
    if (req.method === 'GET' && url.pathname === '/api/events') return hub.attach(res);
    if (url.pathname.startsWith('/api/')) {
      if (req.method !== 'POST') return json(res, 405, { ok: false, error: 'POST only' });
      // The Host header was checked above, so the page's own origin is http://<that host>.
      const fromPage = (req.headers['content-type'] ?? '').startsWith('application/json') && (!req.headers.origin || req.headers.origin === `http://${req.headers.host}`);
      if (!fromPage) return json(res, 403, { ok: false, error: 'JSON from the sandbox page only' });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      } catch {
        return json(res, 400, { ok: false, error: 'invalid JSON' });
      }
      const answer = await api.handle(url.pathname.slice('/api/'.length), body ?? {});
      return json(res, answer.status, answer.body);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { ok: false, error: 'method not allowed' });
    return serveStatic(res, o.publicDir, url.pathname);
  }

  const port = await listen(server, host, o.port ?? 3000);
  origin = `http://${host}:${port}`;
  return {
    url: `${origin}/`,
    port,
    close: async () => {
      unsubscribe();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Everything the page needs to draw the workspace as it is now. */
function snapshot(o: WebOptions): Record<string, unknown> {
  const users = [
    ...o.users.map((u) => ({ id: u.id, name: u.name, role: u.role, approver: o.approvers.includes(u.id) })),
    { id: 'UBOT', name: 'dbops', role: 'bot', approver: false, bot: true },
    { id: SLACKBOT, name: 'Slackbot', role: 'Slack', approver: false, bot: true },
  ];
  return {
    users,
    channels: [...o.fake.channels].map(([id, name]) => ({ id, name })),
    messages: [...o.fake.messages.values()].flat(),
    views: [...o.fake.views.values()],
    sessions: o.demo.list(),
    historyNote: o.historyNote ?? null,
  };
}

/** Fake Slack and demo-session changes → server-sent events. */
function follow(fake: FakeSlack, demo: DemoSessions, hub: EventHub): () => void {
  const handlers = {
    message: (m: unknown) => hub.send('message', m),
    update: (m: unknown) => hub.send('update', m),
    delete: (m: unknown) => hub.send('delete', m),
    view: (v: unknown) => hub.send('view', v),
  };
  for (const [event, fn] of Object.entries(handlers)) fake.events.on(event as 'message', fn);
  const onSessions = (list: unknown) => hub.send('sessions', list);
  demo.events.on('change', onSessions);
  return () => {
    for (const [event, fn] of Object.entries(handlers)) fake.events.off(event as 'message', fn);
    demo.events.off('change', onSessions);
  };
}

/** DNS-rebinding guard: only our own host names. */
function sameHost(hostHeader: string | undefined, port: string): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].some((h) => hostHeader === `${h}:${port}` || (port === '80' && hostHeader === h));
}

async function listen(server: Server, host: string, first: number): Promise<number> {
  for (let port = first, tries = 0; ; port += 1, tries += 1) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || first === 0 || tries >= 50) throw err;
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
