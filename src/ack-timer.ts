import type { IncomingMessage, RequestListener } from 'node:http';
import type { AckKind } from './metrics.js';
import { routedPath } from './http-edge.js';

/** What a Slack POST is, from its buffered body (set by http-edge.ts as `rawBody`); a fixed set. */
function kindOf(req: IncomingMessage): AckKind {
  const body = (req as { rawBody?: Buffer }).rawBody;
  if (!body) return 'other';
  if (String(req.headers['content-type'] ?? '').startsWith('application/json')) return 'event';
  // Form keys, found without parsing the form (inside values `=` is percent-encoded).
  const hasKey = (k: string) => body.indexOf(`${k}=`) === 0 || body.includes(`&${k}=`);
  if (hasKey('command')) return 'command';
  if (hasKey('payload')) return 'interactive';
  return 'other';
}

/**
 * Ack latency as Slack sees it: from the moment the request reaches us (before the edge checks
 * read the body) until the HTTP response is sent, which is when Bolt's HTTPReceiver acks.
 * Slack gives up after 3 s. Outermost listener, so the edge checks' own cost is included.
 */
export function timeAcks(inner: RequestListener, endpoints: readonly string[], observe: (kind: AckKind, seconds: number) => void): RequestListener {
  return (req, res) => {
    if (req.method === 'POST' && endpoints.includes(routedPath(req.url, endpoints))) {
      const t0 = process.hrtime.bigint();
      res.once('finish', () => {
        if (res.statusCode < 400) observe(kindOf(req), Number(process.hrtime.bigint() - t0) / 1e9);
      });
    }
    return inner(req, res);
  };
}
