// An HTTPS fake of the ARM calls behind failover and retention on a flexible server: GET server
// (HA mode/state, zones, backup), POST …/restart and PATCH server as LROs (202 + Azure-AsyncOperation,
// InProgress → Succeeded | Failed). Kept apart from arm-fake.ts (backups), which other tests own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeServer {
  state: string;
  zone: string;
  ha: { mode: 'Disabled' | 'ZoneRedundant' | 'SameZone'; state?: string; standbyZone?: string };
  backupRetentionDays: number;
}

export interface OperationPlan {
  inProgressPolls: number;
  outcome: 'Succeeded' | { code: string; message: string };
}

interface Op {
  plan: OperationPlan;
  polls: number;
  apply: () => void;
}

export class ArmEmergencyFake {
  readonly servers = new Map<string, FakeServer>();
  readonly requests: Array<{ method: string; path: string; body: unknown }> = [];
  nextOperation: OperationPlan = { inProgressPolls: 0, outcome: 'Succeeded' };
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

  async start(): Promise<this> {
    const dir = mkdtempSync(join(tmpdir(), 'arm-em-'));
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

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const method = req.method ?? 'GET';
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    this.requests.push({ method, path: url.pathname, body: raw ? JSON.parse(raw) : undefined });
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return this.#send(res, 401, { error: { code: 'AuthenticationFailed', message: 'no token' } });

    const op = /^\/operations\/([\w-]+)$/.exec(url.pathname);
    if (op) return this.#poll(res, op[1]!);
    const m = /\/flexibleServers\/([^/]+)(\/restart)?$/i.exec(url.pathname);
    const s = m ? this.servers.get(m[1]!) : undefined;
    if (!m || !s) return this.#send(res, 404, { error: { code: 'ResourceNotFound', message: 'not found' } });
    const name = m[1]!;
    if (m[2] && method === 'POST') {
      const p = (this.requests.at(-1)!.body ?? {}) as { restartWithFailover?: boolean };
      return this.#start(res, () => {
        if (p.restartWithFailover && s.ha.standbyZone) [s.zone, s.ha.standbyZone] = [s.ha.standbyZone, s.zone];
      });
    }
    if (method === 'PATCH') {
      const p = this.requests.at(-1)!.body as { properties?: { backup?: { backupRetentionDays?: number } } };
      return this.#start(res, () => {
        const d = p.properties?.backup?.backupRetentionDays;
        if (d !== undefined) s.backupRetentionDays = d;
      });
    }
    if (method === 'GET') {
      return this.#send(res, 200, {
        id: url.pathname,
        name,
        location: 'westeurope',
        type: 'Microsoft.DBforPostgreSQL/flexibleServers',
        properties: {
          state: s.state,
          availabilityZone: s.zone,
          highAvailability: { mode: s.ha.mode, ...(s.ha.state ? { state: s.ha.state } : {}), ...(s.ha.standbyZone ? { standbyAvailabilityZone: s.ha.standbyZone } : {}) },
          backup: { backupRetentionDays: s.backupRetentionDays, geoRedundantBackup: 'Disabled' },
        },
      });
    }
    return this.#send(res, 405, { error: { code: 'MethodNotAllowed', message: method } });
  }

  #start(res: ServerResponse, apply: () => void): void {
    const id = `op-${this.#ops.size + 1}`;
    this.#ops.set(id, { plan: this.nextOperation, polls: 0, apply });
    const asyncOp = `${this.endpoint}/operations/${id}?api-version=2025-08-01`;
    this.#send(res, 202, undefined, { 'azure-asyncoperation': asyncOp, location: asyncOp, 'retry-after': '0' });
  }

  #poll(res: ServerResponse, id: string): void {
    const op = this.#ops.get(id);
    if (!op) return this.#send(res, 404, { error: { code: 'OperationNotFound', message: id } });
    op.polls++;
    if (op.polls <= op.plan.inProgressPolls) return this.#send(res, 200, { name: id, status: 'InProgress' }, { 'retry-after': '0' });
    if (op.plan.outcome === 'Succeeded') {
      if (op.polls === op.plan.inProgressPolls + 1) op.apply();
      return this.#send(res, 200, { name: id, status: 'Succeeded' });
    }
    return this.#send(res, 200, { name: id, status: 'Failed', error: op.plan.outcome });
  }
}
