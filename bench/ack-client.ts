/**
 * The ack bench's load generator: signed `/db` slash commands POSTed with `node:http` over kept-alive
 * sockets, every body built and signed before a round starts, each request timed from its write to
 * its last response byte. `fetch` (undici) spent more of the driver's event loop per request than
 * the bare app did answering it, so the driver's own queueing ended up in both apps' figures.
 */
import { Agent, request } from 'node:http';
import { slashCommandForm, type WorkspaceContext } from '../sandbox/fake-slack/payloads.js';
import { signSlackRequest } from '../sandbox/slack-wire.js';

const WS: WorkspaceContext = { teamId: 'T0DBOPS', teamDomain: 'bench', apiAppId: 'A0DBOPS', token: 'bench-verification-token' };

export interface Ack {
  status: number;
  ms: number;
  body: string;
}

export interface SlashCommandSpec {
  text: string;
  userId: string;
  channelId: string;
  responseUrl: string;
  triggerId: string;
}

export class AckClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 10_000 });
  readonly #url: URL;

  constructor(url: string, private readonly signingSecret: string) {
    this.#url = new URL(url);
  }

  /** Sends every command at once and resolves when all are answered. */
  round(commands: readonly SlashCommandSpec[]): Promise<Ack[]> {
    const prepared = commands.map((c) => {
      const body = new URLSearchParams(
        slashCommandForm(WS, { user: { id: c.userId, name: c.userId.toLowerCase() }, channel: { id: c.channelId, name: 'ops' }, command: '/db', text: c.text, responseUrl: c.responseUrl, triggerId: c.triggerId }),
      ).toString();
      return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), ...signSlackRequest(this.signingSecret, body) } };
    });
    return Promise.all(prepared.map((p) => this.#post(p.body, p.headers)));
  }

  #post(body: string, headers: Record<string, string>): Promise<Ack> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(this.#url, { method: 'POST', agent: this.#agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
