import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * Slack's side of Socket Mode: a WebSocket server that says hello, delivers envelopes
 * (slash_commands, interactive) and collects the app's acks, as wss-primary.slack.com does.
 */
export class FakeSocketMode {
  readonly #wss: WebSocketServer;
  #socket: WebSocket | undefined;
  readonly #acks = new Map<string, (payload: unknown) => void>();
  #connected: Promise<void>;
  #onConnect!: () => void;

  private constructor(wss: WebSocketServer) {
    this.#wss = wss;
    this.#connected = new Promise((r) => (this.#onConnect = r));
    wss.on('connection', (ws) => {
      this.#socket = ws;
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
        if (msg.envelope_id) this.#acks.get(msg.envelope_id)?.(msg.payload ?? null);
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake', approximate_connection_time: 3600 }, connection_info: { app_id: 'A0DBOPS' } }));
      this.#onConnect();
    });
  }

  static async start(): Promise<FakeSocketMode> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    return new FakeSocketMode(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#wss.address() as AddressInfo).port}/link`;
  }

  connected(): Promise<void> {
    return this.#connected;
  }

  /** Delivers an envelope and resolves with the app's ack payload (what an HTTP ack body would be). */
  deliver(type: 'slash_commands' | 'interactive', payload: Record<string, unknown>, timeoutMs = 3000): Promise<unknown> {
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.#acks.set(id, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
      this.#socket!.send(JSON.stringify({ envelope_id: id, type, payload, accepts_response_payload: true, retry_attempt: 0, retry_reason: '' }));
    });
  }

  async close(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    await new Promise<void>((r) => this.#wss.close(() => r()));
  }
}
