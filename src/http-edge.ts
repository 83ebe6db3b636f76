import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from './log.js';
import { REPLAY_VERDICT, type ReplayGuard } from './replay-guard.js';
import { JSON_ACK } from './slack/ack-body.js';

/** Slack's payloads are a few KB; the largest (view submissions) stay far below this. */
export const MAX_SLACK_BODY_BYTES = 256 * 1024;
/** Slack's own window; Bolt enforces only its past half. */
const MAX_SKEW_SECONDS = 5 * 60;

export interface EdgeOptions {
  signingSecret: string;
  endpoints: readonly string[];
  replay: ReplayGuard;
  log: Logger;
  maxBodyBytes?: number;
}

function refuse(res: ServerResponse, status: number, close = false): void {
  res.writeHead(status, close ? { connection: 'close' } : {});
  res.end();
}

/** Reads at most max bytes; undefined when the body is larger (the request is then destroyed). */
function readCapped(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/**
 * The path as Bolt's HTTPReceiver routes it (WHATWG URL pathname), so that nothing it would treat as
 * an endpoint slips past these checks; the common exact form skips the parse.
 */
export function routedPath(url: string | undefined, endpoints: readonly string[]): string {
  if (url !== undefined && endpoints.includes(url)) return url;
  return new URL(url ?? '/', 'http://localhost').pathname;
}

/** Slack's unsigned SSL check (form-encoded `ssl_check=1`), as Bolt recognises it. */
function isSslCheck(req: IncomingMessage, body: Buffer): boolean {
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return false;
  const v = new URLSearchParams(body.toString('utf8')).getAll('ssl_check');
  return v.length === 1 && v[0] === '1';
}

function validSignature(secret: string, ts: string, body: Buffer, signature: string): boolean {
  const mac = createHmac('sha256', secret).update(`v0:${ts}:`).update(body).digest('hex');
  const want = Buffer.from(`v0=${mac}`);
  const got = Buffer.from(signature);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Checks in front of Bolt's HTTPReceiver for POSTs to the Slack endpoint, before anything is
 * buffered or handled: Content-Length over the cap → 413 without reading; a timestamp more than
 * 5 minutes off either way → 401; the body is read counting bytes (over the cap → 413, connection
 * dropped); the signature is verified here so that only signed requests are remembered, and a
 * replay of an already handled signed request is acknowledged with an empty 200 and not processed
 * (on this replica; one another replica handled first is acked, then dropped by its handler).
 * An unsigned request is refused (401) unless it is Slack's SSL check, which goes on stripped to
 * `ssl_check=1` so that no payload rides along. This is the only verification: Bolt's own is turned
 * off (app.ts), as it would hash every body a second time on the ack path.
 * The buffered body is handed to Bolt as `rawBody` (Bolt reuses it), with the replay verdict and the
 * JSON-ack hook for the listeners' context (app.ts).
 */
export function guardSlackEndpoint(inner: RequestListener, o: EdgeOptions): RequestListener {
  const max = o.maxBodyBytes ?? MAX_SLACK_BODY_BYTES;
  const log = o.log.child({ component: 'http-edge' });
  return (req, res) => {
    if (req.method !== 'POST' || !o.endpoints.includes(routedPath(req.url, o.endpoints))) return inner(req, res);
    const length = Number(req.headers['content-length'] ?? 0);
    if (!Number.isFinite(length) || length > max) {
      log.warn({ length }, 'request body over the cap; refused unread');
      res.on('finish', () => req.destroy());
      return refuse(res, 413, true);
    }
    const tsHeader = req.headers['x-slack-request-timestamp'];
    const ts = typeof tsHeader === 'string' ? tsHeader : undefined;
    if (ts !== undefined) {
      const skew = Number(ts) - Date.now() / 1000;
      if (!/^\d{1,12}$/.test(ts) || Math.abs(skew) > MAX_SKEW_SECONDS) {
        log.warn({ skewSeconds: Math.round(skew) }, 'request timestamp outside ±5 min; refused');
        res.on('finish', () => req.destroy());
        return refuse(res, 401, true);
      }
    }
    void (async () => {
      const body = await readCapped(req, max);
      if (!body) {
        log.warn('request body over the cap while reading; refused');
        res.on('finish', () => req.destroy());
        return refuse(res, 413, true);
      }
      const sig = req.headers['x-slack-signature'];
      if (typeof sig !== 'string' || ts === undefined) {
        if (!isSslCheck(req, body)) {
          log.warn('unsigned request refused');
          return refuse(res, 401);
        }
        Object.assign(req, { rawBody: Buffer.from('ssl_check=1') });
        return inner(req, res);
      }
      if (!validSignature(o.signingSecret, ts, body, sig)) return refuse(res, 401);
      if (!o.replay.firstSeenHere(sig, ts)) {
        log.warn({ ts }, 'replayed signed request ignored');
        return refuse(res, 200);
      }
      // Another replica may have had it: handlers that act ask Redis right after ack()
      // (handlers/replay-gate.ts); answers given in the ack itself never wait on it or pay for it.
      let verdict: Promise<boolean> | undefined;
      Object.assign(req, {
        rawBody: body,
        [REPLAY_VERDICT]: () => (verdict ??= o.replay.firstSeenAnywhere(sig, ts)),
        // An answer acked as JSON text already serialised (slack/ack-body.ts): Bolt sends strings without a content-type.
        [JSON_ACK]: () => res.setHeader('content-type', 'application/json'),
      });
      inner(req, res);
    })().catch((err: unknown) => {
      log.warn({ err: (err as Error).message }, 'request read failed');
      if (!res.headersSent) refuse(res, 400, true);
    });
  };
}
