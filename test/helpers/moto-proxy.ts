// An HTTP proxy in front of moto for tests whose AWS client lives in another process (a spawned
// worker) or inside the bot: moto has no in-between states, throttling or access denied, so the proxy
// adds them on the wire. Its state (counters, "creating" looks left) lives in the test process, so it
// holds across worker processes.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ProxyFault {
  action: string;
  status: number;
  code: string;
  message: string;
  /** How many matching requests get the fault. */
  times: number;
  /** Pass the request to moto first, then answer with the fault: a response lost on the way back. */
  afterForward?: boolean;
}

/** `<DBSnapshot>` (RDS) and `<DBClusterSnapshot>` (Aurora) members of describe answers. */
const SNAPSHOT_ELEMENT = /<(DBSnapshot|DBClusterSnapshot)>([\s\S]*?)<\/\1>/g;
interface Upstream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const DESCRIBES = new Set(['DescribeDBSnapshots', 'DescribeDBClusterSnapshots']);

export class MotoProxy {
  /** Requests seen, per query-protocol Action. */
  readonly actions = new Map<string, number>();
  readonly faults: ProxyFault[] = [];
  /** Describes of each snapshot id answered "creating" so far. */
  readonly creatingLooks = new Map<string, number>();
  /** Answer this many describes of each snapshot id with "creating" before letting "available" through. */
  creatingFor = 0;
  /** Hold answers to these actions this long (a look in flight, to kill its worker in the middle). */
  readonly holdMs = new Map<string, number>();
  /** Requests currently held or being forwarded, per action. */
  readonly inflight = new Map<string, number>();
  #server?: Server;
  #port = 0;

  constructor(readonly upstream: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  count(action: string): number {
    return this.actions.get(action) ?? 0;
  }

  reset(): void {
    this.actions.clear();
    this.faults.length = 0;
    this.creatingLooks.clear();
    this.creatingFor = 0;
    this.holdMs.clear();
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? `${req.method} ${req.url}`;
    this.actions.set(action, this.count(action) + 1);
    const fault = this.faults.find((f) => f.times > 0 && f.action === action);
    if (fault) {
      fault.times--;
      if (fault.afterForward) await this.#forward(req, body);
      res.writeHead(fault.status, { 'content-type': 'text/xml' });
      res.end(`<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${fault.message}</Message></Error><RequestId>proxy-fault</RequestId></ErrorResponse>`);
      return;
    }
    this.inflight.set(action, (this.inflight.get(action) ?? 0) + 1);
    let up: Upstream;
    try {
      const hold = this.holdMs.get(action);
      if (hold) await new Promise((r) => setTimeout(r, hold));
      up = await this.#forward(req, body);
    } finally {
      this.inflight.set(action, (this.inflight.get(action) ?? 1) - 1);
    }
    if (res.destroyed) return; // the client (a killed worker) is gone
    let out = up.body;
    if (DESCRIBES.has(action) && this.creatingFor > 0) out = Buffer.from(this.#creating(up.body.toString('utf8')));
    const headers = { ...up.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    res.writeHead(up.status, { ...headers, 'content-length': String(out.length) });
    res.end(out);
  }

  /** The first `creatingFor` describes of each snapshot id say "creating", with progress rising. */
  #creating(xml: string): string {
    return xml.replace(SNAPSHOT_ELEMENT, (whole, tag: string, inner: string) => {
      const id = /<(?:DBSnapshotIdentifier|DBClusterSnapshotIdentifier)>([^<]+)</.exec(inner)?.[1];
      if (!id || !inner.includes('<Status>available</Status>')) return whole;
      const looks = this.creatingLooks.get(id) ?? 0;
      if (looks >= this.creatingFor) return whole;
      this.creatingLooks.set(id, looks + 1);
      const pct = Math.round(((looks + 1) * 100) / (this.creatingFor + 1));
      const edited = inner.includes('<PercentProgress>')
        ? inner.replace(/<PercentProgress>\d+<\/PercentProgress>/, `<PercentProgress>${pct}</PercentProgress>`)
        : inner.replace('<Status>available</Status>', `<Status>available</Status><PercentProgress>${pct}</PercentProgress>`);
      return `<${tag}>${edited.replace('<Status>available</Status>', '<Status>creating</Status>')}</${tag}>`;
    });
  }

  #forward(req: IncomingMessage, body: Buffer): Promise<Upstream> {
    const u = new URL(this.upstream);
    return new Promise((resolve, reject) => {
      const r = request({ host: u.hostname, port: u.port, method: req.method, path: req.url, headers: req.headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });
  }
}
