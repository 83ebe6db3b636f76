// A small HTTPS fake of the Azure Resource Manager endpoints the flexible-server SDK calls, with
// the LRO contract (202 + Azure-AsyncOperation, InProgress/Succeeded/Failed, final GET). HTTPS
// because the SDK refuses to send a bearer token over http; the certificate is self-signed per run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ArmBackup {
  name: string;
  backupType: 'Full' | 'Customer On-Demand';
  completedTime: string;
}

export interface OperationPlan {
  /** Status polls answered InProgress before the outcome. */
  inProgressPolls: number;
  outcome: 'Succeeded' | { code: string; message: string };
}

export interface ArmRequest {
  method: string;
  path: string;
}

/** A token credential the SDK accepts; the fake only checks that a bearer token is sent. */
export const stubCredential = { getToken: async () => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3.6e6 }) };

export const SUBSCRIPTION = '00000000-0000-4000-8000-000000000001';

/** The bot's Azure client deps pointed at an ARM fake (its endpoint and self-signed CA), retrying once, polling fast. */
export function armProviderDeps(fake: { endpoint: string; ca: string }) {
  return { azureCredential: stubCredential, azureClientOptions: { endpoint: fake.endpoint, tlsOptions: { ca: fake.ca }, retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 50 } }, azurePollIntervalMs: 10 };
}

function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'arm-fake-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Operation {
  plan: OperationPlan;
  polls: number;
  server: string;
  backup: ArmBackup;
}

export class ArmFake {
  readonly requests: ArmRequest[] = [];
  /** Backups per server name. */
  readonly backups = new Map<string, ArmBackup[]>();
  readonly servers = new Map<string, { backupRetentionDays: number; earliestRestoreDate: string; state: string }>();
  /** The plan for the next on-demand backup PUT. */
  nextOperation: OperationPlan = { inProgressPolls: 0, outcome: 'Succeeded' };
  /** Answer the next matching requests with this error (RestError on the client). */
  readonly faults: { method: string; pathIncludes: string; status: number; code: string; times: number }[] = [];
  readonly #ops = new Map<string, Operation>();
  #server?: Server;
  #cert = '';
  #port = 0;

  get endpoint(): string {
    return `https://127.0.0.1:${this.#port}`;
  }
  /** PEM of the self-signed certificate, for the client's `tlsOptions.ca`. */
  get ca(): string {
    return this.#cert;
  }

  putsTo(pathIncludes: string): number {
    return this.requests.filter((r) => r.method === 'PUT' && r.path.includes(pathIncludes)).length;
  }

  async start(): Promise<this> {
    const { key, cert } = selfSignedCert();
    this.#cert = cert;
    this.#server = createServer({ key, cert }, (req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as { port: number }).port;
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

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.endpoint);
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname });
    req.resume();
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return this.#error(res, 401, 'AuthenticationFailed', 'no bearer token');
    if (!url.searchParams.get('api-version')) return this.#error(res, 400, 'MissingApiVersionParameter', 'api-version is required');
    const fault = this.faults.find((f) => f.times > 0 && f.method === method && url.pathname.includes(f.pathIncludes));
    if (fault) {
      fault.times--;
      return this.#error(res, fault.status, fault.code, `fake ${fault.code}`);
    }

    const op = /^\/operations\/([\w-]+)$/.exec(url.pathname);
    if (op && method === 'GET') return this.#poll(res, op[1]!);

    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+)(?:\/backups(?:\/([^/]+))?)?$/i.exec(url.pathname);
    if (!m) return this.#error(res, 404, 'InvalidResourceType', `no route ${method} ${url.pathname}`);
    const [, , rg, serverName, backupName] = m as unknown as [string, string, string, string, string | undefined];
    const server = this.servers.get(serverName);
    if (!server) return this.#error(res, 404, 'ResourceNotFound', `server ${serverName} not found`);
    const base = `/subscriptions/${m[1]}/resourceGroups/${rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${serverName}`;
    const list = this.backups.get(serverName) ?? [];
    const resource = (b: ArmBackup) => ({ id: `${base}/backups/${b.name}`, name: b.name, type: 'Microsoft.DBforPostgreSQL/flexibleServers/backups', properties: { backupType: b.backupType, completedTime: b.completedTime, source: 'Automatic' } });

    if (!url.pathname.toLowerCase().includes('/backups')) {
      if (method !== 'GET') return this.#error(res, 405, 'MethodNotAllowed', method);
      return this.#send(res, 200, {
        id: base,
        name: serverName,
        location: 'westeurope',
        type: 'Microsoft.DBforPostgreSQL/flexibleServers',
        properties: { state: server.state, fullyQualifiedDomainName: `${serverName}.postgres.database.azure.com`, backup: { backupRetentionDays: server.backupRetentionDays, earliestRestoreDate: server.earliestRestoreDate, geoRedundantBackup: 'Disabled' } },
      });
    }
    if (!backupName) {
      if (method !== 'GET') return this.#error(res, 405, 'MethodNotAllowed', method);
      return this.#send(res, 200, { value: list.map(resource) });
    }
    if (method === 'GET') {
      const b = list.find((x) => x.name === backupName);
      return b ? this.#send(res, 200, resource(b)) : this.#error(res, 404, 'ResourceNotFound', `backup ${backupName} not found`);
    }
    if (method === 'PUT') {
      const id = `op-${this.#ops.size + 1}`;
      this.#ops.set(id, { plan: this.nextOperation, polls: 0, server: serverName, backup: { name: backupName, backupType: 'Customer On-Demand', completedTime: '' } });
      const asyncOp = `${this.endpoint}/operations/${id}?api-version=2025-08-01`;
      return this.#send(res, 202, undefined, { 'azure-asyncoperation': asyncOp, location: asyncOp, 'retry-after': '0' });
    }
    return this.#error(res, 405, 'MethodNotAllowed', method);
  }

  #poll(res: ServerResponse, id: string): void {
    const op = this.#ops.get(id);
    if (!op) return this.#error(res, 404, 'OperationNotFound', id);
    op.polls++;
    if (op.polls <= op.plan.inProgressPolls) return this.#send(res, 200, { name: id, status: 'InProgress', startTime: new Date().toISOString() }, { 'retry-after': '0' });
    if (op.plan.outcome === 'Succeeded') {
      // The backup exists from the moment the operation succeeds (the SDK then GETs it).
      if (!op.backup.completedTime) {
        op.backup.completedTime = new Date().toISOString();
        this.backups.set(op.server, [...(this.backups.get(op.server) ?? []), op.backup]);
      }
      return this.#send(res, 200, { name: id, status: 'Succeeded', startTime: new Date().toISOString(), endTime: new Date().toISOString() });
    }
    return this.#send(res, 200, { name: id, status: 'Failed', error: op.plan.outcome });
  }
}
