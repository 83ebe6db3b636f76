// A fake Slack Web API on node:http. The bot's real WebClient talks to it through
// SLACK_API_URL; every call is recorded so tests assert on the wire, and the stores keep the
// messages/modals a sandbox page renders. Failure injection: 429s, usergroups errors.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseApiBody, parseJsonObject } from './body.js';
import { ResponseUrls, type ResponseUrlContext } from './response-urls.js';
import { routes, type ApiContext } from './routes/index.js';
import { MessageStore } from './store.js';
import type { FakeSlackEventMap, FakeSlackOptions, RecordedCall, StoredMessage, StoredView } from './types.js';
import { ViewStore } from './views.js';

const MAX_BODY_BYTES = 5 * 1024 * 1024;

export class FakeSlack implements ApiContext {
  readonly events = new EventEmitter<FakeSlackEventMap>();
  /** Every call in arrival order, including rate-limited (429) and response_url ones. */
  readonly calls: RecordedCall[] = [];
  readonly channels: Map<string, string>;
  readonly users: Map<string, Record<string, unknown>>;
  readonly usergroups: Map<string, string[]>;
  /** When set (e.g. 'plan_upgrade_required'), usergroups.users.list answers {ok:false, error}. */
  usergroupsError: string | undefined;
  /** Set by a Socket Mode test: what apps.connections.open answers. */
  socketModeUrl: string | undefined;
  readonly store = new MessageStore(this.events);
  readonly viewStore = new ViewStore(this.events);
  readonly responseUrls = new ResponseUrls(this.store);
  private readonly rateLimits = new Map<string, { retryAfterSeconds: number; times: number }>();
  private server: Server | undefined;
  private origin = '';

  private constructor(options: FakeSlackOptions) {
    this.channels = new Map(Object.entries(options.channels ?? {}));
    this.users = new Map(Object.entries(options.users ?? {}));
    this.usergroups = new Map(Object.entries(options.usergroups ?? {}));
    // Tests and the page may both listen; a dozen listeners is not a leak here.
    this.events.setMaxListeners(100);
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    const server = createServer((req, res) => void fake.handle(req, res));
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    fake.server = server;
    fake.origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return fake;
  }

  /** e.g. http://127.0.0.1:PORT */
  get baseUrl(): string {
    return this.origin;
  }

  /** Give this to WebClient as `slackApiUrl` (ends with a slash, as WebClient appends the method). */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  /** Messages per channel (copies). */
  get messages(): Map<string, StoredMessage[]> {
    return this.store.snapshot();
  }

  /** Open modals by view id (copies). */
  get views(): Map<string, StoredView> {
    return this.viewStore.snapshot();
  }

  messagesIn(channel: string): StoredMessage[] {
    return this.store.messagesIn(channel);
  }

  thread(channel: string, ts: string): StoredMessage[] {
    return this.store.thread(channel, ts);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves with the first recorded call matching, now or later; rejects after timeoutMs. */
  waitForCall(method: string, predicate: (call: RecordedCall) => boolean = () => true, timeoutMs = 10_000): Promise<RecordedCall> {
    const matches = (c: RecordedCall) => c.method === method && predicate(c);
    const existing = this.calls.find(matches);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const onCall = (call: RecordedCall) => {
        if (!matches(call)) return;
        clearTimeout(timer);
        this.events.off('call', onCall);
        resolve(call);
      };
      const timer = setTimeout(() => {
        this.events.off('call', onCall);
        const seen = this.calls.map((c) => `${c.method}(${c.status})`).join(', ') || 'none';
        reject(new Error(`FakeSlack: no matching ${method} call within ${timeoutMs} ms; calls so far: ${seen}`));
      }, timeoutMs);
      this.events.on('call', onCall);
    });
  }

  /** The next `times` calls of `method` answer HTTP 429 with Retry-After: retryAfterSeconds. */
  rateLimitNext(method: string, retryAfterSeconds: number, times = 1): void {
    this.rateLimits.set(method, { retryAfterSeconds, times });
  }

  /** A response_url on this fake for an interaction by `user` in `channel` (5 uses, 30 min). */
  responseUrlFor(context: ResponseUrlContext): string {
    return `${this.origin}/response/${this.responseUrls.create(context)}`;
  }

  /** A single-use trigger_id (valid viewStore.triggerTtlMs, 3 s) that views.open attributes to `user`. */
  issueTriggerId(user: string, viewId?: string): string {
    return this.viewStore.issueTrigger(user, viewId);
  }

  /** Forgets calls, messages, modals, response URLs and injected failures; keeps channels/users/groups. */
  reset(): void {
    this.calls.length = 0;
    this.store.clear();
    this.viewStore.clear();
    this.responseUrls.clear();
    this.rateLimits.clear();
    this.usergroupsError = undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // WebClient's fetch keeps connections alive; without this close() waits for them to idle out.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    this.events.removeAllListeners();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', this.origin);
      const raw = await readBody(req);
      const api = /^\/api\/([\w.]+)$/.exec(url.pathname);
      const response = /^\/response\/(\w+)$/.exec(url.pathname);
      if (api) return this.handleApi(api[1]!, parseApiBody(raw, req.headers['content-type'], url.searchParams), res);
      if (response && req.method === 'POST') return this.handleResponseUrl(response[1]!, raw, req.headers['content-type'], res);
      send(res, 404, { ok: false, error: 'not_found' });
    } catch (err) {
      // A bug in the fake must fail the test loudly rather than look like a Slack answer.
      send(res, 500, { ok: false, error: 'fake_slack_internal_error', detail: String(err) });
    }
  }

  private handleApi(method: string, args: Record<string, unknown>, res: ServerResponse): void {
    const limit = this.rateLimits.get(method);
    if (limit && limit.times > 0) {
      limit.times -= 1;
      if (limit.times === 0) this.rateLimits.delete(method);
      const body = { ok: false, error: 'ratelimited' };
      send(res, 429, body, { 'Retry-After': String(limit.retryAfterSeconds) });
      return this.record({ method, args, at: Date.now(), status: 429, response: body });
    }
    const route = routes[method];
    const body = route ? route(args, this) : { ok: false, error: 'unknown_method' };
    send(res, 200, body);
    this.record({ method, args, at: Date.now(), status: 200, response: body });
  }

  private handleResponseUrl(id: string, raw: string, contentType: string | undefined, res: ServerResponse): void {
    let args: Record<string, unknown>;
    try {
      // Bolt's respond() posts JSON; Slack also accepts a form with payload=<json>.
      const form = (contentType ?? '').startsWith('application/x-www-form-urlencoded');
      args = form ? parseJsonObject(new URLSearchParams(raw).get('payload') ?? '{}') : parseJsonObject(raw);
    } catch {
      send(res, 400, 'invalid_payload');
      return this.record({ method: 'response_url', args: { raw }, at: Date.now(), status: 400 });
    }
    const at = Date.now();
    const result = this.responseUrls.use(id, args);
    if (!result.ok) {
      send(res, result.status, { ok: false, error: result.error });
      return this.record({ method: 'response_url', args, at, status: result.status, response: { ok: false, error: result.error } });
    }
    send(res, 200, 'ok');
    this.record({ method: 'response_url', args, at, status: 200, responseUrl: result.entry });
  }

  private record(call: RecordedCall): void {
    this.calls.push(call);
    this.events.emit('call', call);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('request body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
