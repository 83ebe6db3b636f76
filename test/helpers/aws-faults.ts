// Faults moto cannot make (in-between states, throttling, access denied), injected between the
// AWS SDK client and the wire so everything else (serialisation, retries, parsing) stays real.
import { Readable } from 'node:stream';
import { HttpResponse, type HttpRequest } from '@smithy/core/transport';

type Handle = (req: HttpRequest) => Promise<{ response: HttpResponse }>;
/** Return a response to answer instead of moto, or undefined to pass the request through. */
export type Fault = (req: HttpRequest, action: string, next: Handle) => Promise<{ response: HttpResponse } | undefined>;

interface HandlerLike {
  handle(req: HttpRequest, opts?: unknown): Promise<{ response: HttpResponse }>;
}

/** The query-protocol action (RDS) of a request, from its form body. */
export function actionOf(req: HttpRequest): string {
  const body = typeof req.body === 'string' ? req.body : '';
  return new URLSearchParams(body).get('Action') ?? `${req.method} ${req.path}`;
}

/** Wraps `client.config.requestHandler` (read at each send) with `fault`. Returns a function that removes it. */
export function injectFault(client: { config: { requestHandler: unknown } }, fault: Fault): () => void {
  const inner = client.config.requestHandler as HandlerLike;
  const wrapped = Object.create(inner) as HandlerLike;
  wrapped.handle = async (req, opts) => {
    const next: Handle = (r) => inner.handle(r, opts);
    return (await fault(req, actionOf(req), next)) ?? next(req);
  };
  client.config.requestHandler = wrapped;
  return () => {
    client.config.requestHandler = inner;
  };
}

export function xmlResponse(statusCode: number, xml: string): { response: HttpResponse } {
  return { response: new HttpResponse({ statusCode, headers: { 'content-type': 'text/xml' }, body: Readable.from([Buffer.from(xml)]) }) };
}

export function awsQueryError(statusCode: number, code: string, message: string): { response: HttpResponse } {
  return xmlResponse(
    statusCode,
    `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fault-1</RequestId></ErrorResponse>`,
  );
}

async function bodyText(res: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/** Passes the request to moto and rewrites its XML answer. */
export async function rewrite(req: HttpRequest, next: Handle, edit: (xml: string) => string): Promise<{ response: HttpResponse }> {
  const { response } = await next(req);
  const xml = edit(await bodyText(response));
  const headers = { ...response.headers };
  delete headers['content-length'];
  return { response: new HttpResponse({ statusCode: response.statusCode, headers, body: Readable.from([Buffer.from(xml)]) }) };
}
