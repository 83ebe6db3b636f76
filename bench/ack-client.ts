/**
 * The ack bench's load generator: signed `/db` slash commands (built and signed by SlackWire, as in
 * the tests) POSTed with `node:http` over kept-alive sockets, every request of a round built and
 * signed before the round starts, each timed from its write to its last response byte. `fetch`
 * (undici) spent more of the driver's event loop per request than the bare app did answering it, so
 * the driver's own queueing ended up in both apps' figures.
 */
import { Agent, request } from 'node:http';
import { SlackWire, type SignedRequest, type SlashCommandOptions } from '../sandbox/slack-wire.js';

export interface Ack {
  status: number;
  ms: number;
  body: string;
}

export class AckClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 10_000 });
  readonly #url: URL;
  readonly #wire: SlackWire;

  constructor(url: string, signingSecret: string) {
    this.#url = new URL(url);
    this.#wire = new SlackWire({ botUrl: url, signingSecret });
  }

  /** Sends every command at once and resolves when all are answered. */
  round(commands: readonly SlashCommandOptions[]): Promise<Ack[]> {
    const prepared = commands.map((c) => this.#wire.slashCommandRequest(c));
    return Promise.all(prepared.map((p) => this.#post(p)));
  }

  #post({ rawBody, headers }: SignedRequest): Promise<Ack> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(this.#url, { method: 'POST', agent: this.#agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(rawBody)) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(rawBody);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
