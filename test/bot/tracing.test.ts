// OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, a `/db vacuum` request is one trace from the
// Slack HTTP request through the BullMQ job to the step's queries. A local OTLP/HTTP JSON receiver on
// 127.0.0.1 collects the spans. (`npm run build` first.)
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FakeSlack, SlackWire } from '../harness/index.js';
import { connect, createTestDatabase, redisPrefix } from '../helpers/db.js';
import { eventually, freePort, OPS, REQUESTER, SIGNING_SECRET, targetsYaml } from '../helpers/bot.js';

interface Span { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: { key: string; value: { stringValue?: string } }[] }

let receiver: Server | undefined;
let fake: FakeSlack | undefined;
let target: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let state: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let child: ReturnType<typeof spawn> | undefined;
afterAll(async () => {
  child?.kill('SIGTERM');
  await new Promise((r) => (child && child.exitCode === null ? child.once('exit', r) : r(undefined)));
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
  await fake?.close();
  await target?.drop();
  await state?.drop();
});

/** OTLP/HTTP with JSON bodies: POST /v1/traces, ExportTraceServiceRequest. */
function startReceiver(spans: Span[], paths: string[]): Promise<number> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans?: { scopeSpans?: { spans?: Span[] }[] }[] };
        for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      } catch {
        /* not JSON: counted in paths, no spans */
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) => receiver!.listen(0, '127.0.0.1', () => resolve((receiver!.address() as { port: number }).port)));
}

it('one trace id spans the Slack request, the queued job and the step queries', async () => {
  const spans: Span[] = [];
  const paths: string[] = [];
  const otlpPort = await startReceiver(spans, paths);
  fake = await FakeSlack.start();
  target = await createTestDatabase('trace');
  state = await createTestDatabase('tracestate');
  const s = await connect(target.url);
  await s.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)');
  await s.end();
  const dir = mkdtempSync(join(tmpdir(), 'dbops-trace-'));
  const file = join(dir, 'targets.yaml');
  writeFileSync(file, targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH!,
    SLACK_BOT_TOKEN: 'xoxb-1',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    DBOPS_TARGETS: file,
    DATABASE_URL: state.url,
    PORT: String(port),
    DBOPS_QUEUE_PREFIX: redisPrefix('trace'),
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
    OTEL_SERVICE_NAME: 'dbops-test',
  };
  child = spawn(process.execPath, ['dist/src/main.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok, 20_000, 'healthz');
  const wire = new SlackWire({ botUrl: `${base}/slack/events`, signingSecret: SIGNING_SECRET, fake });
  expect((await wire.slashCommand({ text: 'vacuum demo t', userId: REQUESTER, channelId: OPS })).status).toBe(200);

  const st = await connect(state.url);
  try {
    await eventually(async () => (await st.query(`SELECT 1 FROM runs WHERE runbook = 'vacuum' AND state = 'succeeded'`)).rowCount, 30_000, 'vacuum run succeeded');
  } finally {
    await st.end();
  }
  const attr = (sp: Span, k: string) => sp.attributes?.find((a) => a.key === k)?.value.stringValue;
  // The HTTP server span of the slash command (kind 2 = SERVER).
  const http = await eventually(() => spans.find((sp) => sp.kind === 2 && (attr(sp, 'http.target') ?? attr(sp, 'url.path') ?? '').startsWith('/slack/events')), 15_000, 'HTTP server span');
  const trace = spans.filter((sp) => sp.traceId === http.traceId);
  // BullMQ producer (add) and consumer (process) spans in the same trace, and pg queries below the job.
  await eventually(() => {
    const t = spans.filter((sp) => sp.traceId === http.traceId);
    return t.some((sp) => /process/.test(sp.name) && /runs/.test(sp.name)) && t.some((sp) => /^pg\.query/.test(sp.name) && /VACUUM/i.test(attr(sp, 'db.statement') ?? attr(sp, 'db.query.text') ?? '')) ? true : undefined;
  }, 15_000, 'job and step spans in the request trace');
  const all = spans.filter((sp) => sp.traceId === http.traceId);
  expect(all.some((sp) => /add/.test(sp.name) && /runs/.test(sp.name))).toBe(true);
  expect(trace.length).toBeGreaterThan(0);
  expect(paths.every((p) => p.startsWith('POST /v1/traces application/json'))).toBe(true);
  // Probes are not traced.
  await fetch(`${base}/healthz`);
  expect(spans.some((sp) => (attr(sp, 'http.target') ?? attr(sp, 'url.path') ?? '').startsWith('/healthz'))).toBe(false);
}, 90_000);
