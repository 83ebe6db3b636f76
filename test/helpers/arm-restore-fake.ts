// An HTTPS fake of the ARM calls behind a point-in-time restore of a flexible server: GET/list
// servers, PUT a server (createMode PointInTimeRestore) as an LRO (Azure-AsyncOperation,
// InProgress → Succeeded | Failed, then the final GET), and on-demand backups (the pre-restore
// snapshot) as an LRO that succeeds at once; DELETE a server as an LRO (backup verify's scratch copy). Kept apart from arm-fake.ts, which other tests own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeFlexServer {
  state: string;
  location: string;
  earliestRestoreDate: string;
  tags?: Record<string, string>;
}

export interface RestorePlan {
  inProgressPolls: number;
  outcome: 'Succeeded' | { code: string; message: string };
}

interface Op {
  plan: RestorePlan;
  polls: number;
  apply: () => void;
}

export class ArmRestoreFake {
  readonly servers = new Map<string, FakeFlexServer>();
  readonly backups = new Map<string, { name: string; completedTime: string }[]>();
  readonly requests: Array<{ method: string; path: string; body: any }> = [];
  nextRestore: RestorePlan = { inProgressPolls: 0, outcome: 'Succeeded' };
  nextDelete: RestorePlan = { inProgressPolls: 0, outcome: 'Succeeded' };
  readonly #ops = new Map<string, Op>();
  #server?: Server;
  #cert = '';
  #port = 0;

  get endpoint(): string {
    return `https://127.0.0.1:${this.#port}`;
  }
  get ca(): string {
    return this.#cert;
  }
  putsTo(server: string): Array<{ body: any }> {
    return this.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/flexibleServers/${server}`));
  }

  async start(): Promise<this> {
    const dir = mkdtempSync(join(tmpdir(), 'arm-rst-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      this.#cert = readFileSync(join(dir, 'c.pem'), 'utf8');
      this.#server = createServer({ key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: this.#cert }, (req, res) => void this.#handle(req, res));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server!.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-id': 'fake', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }
  #error(res: ServerResponse, status: number, code: string, message: string): void {
    this.#send(res, status, { error: { code, message } });
  }

  #lro(res: ServerResponse, plan: RestorePlan, apply: () => void, status = 202): void {
    const id = `op-${this.#ops.size + 1}`;
    this.#ops.set(id, { plan, polls: 0, apply });
    const asyncOp = `${this.endpoint}/operations/${id}?api-version=2025-08-01`;
    this.#send(res, status, status === 201 ? {} : undefined, { 'azure-asyncoperation': asyncOp, 'retry-after': '0' });
  }

  #resource(base: string, name: string, s: FakeFlexServer): unknown {
    return { id: base, name, location: s.location, type: 'Microsoft.DBforPostgreSQL/flexibleServers', tags: s.tags ?? {}, properties: { state: s.state, fullyQualifiedDomainName: `${name}.postgres.database.azure.com`, backup: { backupRetentionDays: 7, earliestRestoreDate: s.earliestRestoreDate, geoRedundantBackup: 'Disabled' } } };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const method = req.method ?? 'GET';
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    this.requests.push({ method, path: url.pathname, body: raw ? JSON.parse(raw) : undefined });
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return this.#error(res, 401, 'AuthenticationFailed', 'no token');
    const op = /^\/operations\/([\w-]+)$/.exec(url.pathname);
    if (op) return this.#poll(res, op[1]!);
    const list = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers$/i.exec(url.pathname);
    if (list && method === 'GET') {
      return this.#send(res, 200, { value: [...this.servers].map(([n, s]) => this.#resource(`${url.pathname}/${n}`, n, s)) });
    }
    const lb = /\/flexibleServers\/([^/]+)\/backups$/i.exec(url.pathname);
    if (lb && method === 'GET') {
      return this.#send(res, 200, { value: (this.backups.get(lb[1]!) ?? []).map((b) => ({ id: `${url.pathname}/${b.name}`, name: b.name, properties: { backupType: 'Customer On-Demand', completedTime: b.completedTime } })) });
    }
    const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+))(?:\/backups\/([^/]+))?$/i.exec(url.pathname);
    if (!m) return this.#error(res, 404, 'InvalidResourceType', `no route ${method} ${url.pathname}`);
    const [, base, name, backup] = m as unknown as [string, string, string, string | undefined];
    const s = this.servers.get(name);
    if (backup) {
      if (!s) return this.#error(res, 404, 'ResourceNotFound', `server ${name} not found`);
      const bs = this.backups.get(name) ?? [];
      const found = bs.find((b) => b.name === backup);
      const resource = (b: { name: string; completedTime: string }) => ({ id: `${base}/backups/${b.name}`, name: b.name, properties: { backupType: 'Customer On-Demand', completedTime: b.completedTime } });
      if (method === 'GET') return found ? this.#send(res, 200, resource(found)) : this.#error(res, 404, 'ResourceNotFound', `backup ${backup} not found`);
      if (method === 'PUT') return this.#lro(res, { inProgressPolls: 0, outcome: 'Succeeded' }, () => this.backups.set(name, [...bs, { name: backup, completedTime: new Date().toISOString() }]));
      return this.#error(res, 405, 'MethodNotAllowed', method);
    }
    if (method === 'GET') return s ? this.#send(res, 200, this.#resource(base, name, s)) : this.#error(res, 404, 'ResourceNotFound', `server ${name} not found`);
    if (method === 'PUT') {
      const body = this.requests.at(-1)!.body as { location?: string; tags?: Record<string, string>; properties?: { createMode?: string; sourceServerResourceId?: string; pointInTimeUTC?: string } };
      if (s) return this.#error(res, 409, 'ServerAlreadyExists', `server ${name} exists`);
      if (body.properties?.createMode !== 'PointInTimeRestore' || !body.properties.sourceServerResourceId || !body.properties.pointInTimeUTC) return this.#error(res, 400, 'InvalidParameterValue', 'PITR fields missing');
      const restored: FakeFlexServer = { state: 'Ready', location: body.location ?? 'westeurope', earliestRestoreDate: new Date().toISOString(), ...(body.tags ? { tags: body.tags } : {}) };
      return this.#lro(res, this.nextRestore, () => this.servers.set(name, restored), 201);
    }
    if (method === 'DELETE') {
      // servers.beginDelete: "Dropping" at once, gone when the operation is first seen succeeded.
      if (!s) return this.#send(res, 204);
      s.state = 'Dropping';
      return this.#lro(res, this.nextDelete, () => this.servers.delete(name));
    }
    return this.#error(res, 405, 'MethodNotAllowed', method);
  }

  #poll(res: ServerResponse, id: string): void {
    const op = this.#ops.get(id);
    if (!op) return this.#error(res, 404, 'OperationNotFound', id);
    op.polls++;
    if (op.polls <= op.plan.inProgressPolls) return this.#send(res, 200, { name: id, status: 'InProgress' }, { 'retry-after': '0' });
    if (op.plan.outcome === 'Succeeded') {
      if (op.polls === op.plan.inProgressPolls + 1) op.apply();
      return this.#send(res, 200, { name: id, status: 'Succeeded' });
    }
    return this.#send(res, 200, { name: id, status: 'Failed', error: op.plan.outcome });
  }
}
