// What every HTTPS fake of Azure Resource Manager here shares: a self-signed HTTPS server (the SDK
// refuses to send a bearer token over http), the bearer-token check, every request recorded with
// its JSON body, and the LRO contract (202/201 + Azure-AsyncOperation, polled InProgress →
// Succeeded | Failed). Subclasses answer the resource routes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OperationPlan {
  /** Status polls answered InProgress before the outcome. */
  inProgressPolls: number;
  outcome: 'Succeeded' | { code: string; message: string };
}

export interface ArmRequest {
  method: string;
  path: string;
  body?: any;
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

export abstract class ArmHttpsFake {
  readonly requests: ArmRequest[] = [];
  readonly #ops = new Map<string, { plan: OperationPlan; polls: number; apply: () => void }>();
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

  async start(): Promise<this> {
    const { key, cert } = selfSignedCert();
    this.#cert = cert;
    this.#server = createServer({ key, cert }, (req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Answers a resource request (not an operation poll); `body` is the parsed JSON, if any. */
  protected abstract route(res: ServerResponse, url: URL, method: string, body: any): void;

  protected send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-id': 'fake', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }

  protected error(res: ServerResponse, status: number, code: string, message: string): void {
    this.send(res, status, { error: { code, message } });
  }

  /**
   * Starts a long-running operation: `status` (202, or 201 with an empty body) and its
   * Azure-AsyncOperation URL (`withLocation`: as Location too). `apply` changes the fake's state
   * when the operation is first seen succeeded.
   */
  protected lro(res: ServerResponse, plan: OperationPlan, apply: () => void, o: { status?: 201 | 202; withLocation?: boolean } = {}): void {
    const id = `op-${this.#ops.size + 1}`;
    this.#ops.set(id, { plan, polls: 0, apply });
    const asyncOp = `${this.endpoint}/operations/${id}?api-version=2025-08-01`;
    const status = o.status ?? 202;
    this.send(res, status, status === 201 ? {} : undefined, { 'azure-asyncoperation': asyncOp, ...(o.withLocation ? { location: asyncOp } : {}), 'retry-after': '0' });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const method = req.method ?? 'GET';
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const body = raw ? JSON.parse(raw) : undefined;
    this.requests.push({ method, path: url.pathname, body });
    if (!(req.headers.authorization ?? '').startsWith('Bearer ') || !(req.headers.authorization ?? '').slice(7).trim()) return this.error(res, 401, 'AuthenticationFailed', 'no bearer token');
    const op = /^\/operations\/([\w-]+)$/.exec(url.pathname);
    if (op && method === 'GET') return this.#poll(res, op[1]!);
    this.route(res, url, method, body);
  }

  #poll(res: ServerResponse, id: string): void {
    const op = this.#ops.get(id);
    if (!op) return this.error(res, 404, 'OperationNotFound', id);
    op.polls++;
    const startTime = new Date().toISOString();
    if (op.polls <= op.plan.inProgressPolls) return this.send(res, 200, { name: id, status: 'InProgress', startTime }, { 'retry-after': '0' });
    if (op.plan.outcome === 'Succeeded') {
      if (op.polls === op.plan.inProgressPolls + 1) op.apply();
      return this.send(res, 200, { name: id, status: 'Succeeded', startTime, endTime: new Date().toISOString() });
    }
    return this.send(res, 200, { name: id, status: 'Failed', error: op.plan.outcome });
  }
}
