// Point 9: what reaches Bolt is bounded and fresh: future timestamps and replays are refused,
// oversize bodies are refused before they are buffered, /metrics needs its token.
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER, ask, eventually, INCIDENTS, METRICS_TOKEN, OPS, REQUESTER, SIGNING_SECRET, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { signSlackRequest, type PostOptions, type WireResponse } from '../harness/index.js';

let target: Awaited<ReturnType<typeof createTestDatabase>>;
let tb: TestBot;

beforeAll(async () => {
  target = await createTestDatabase('edge');
  const setup = await connect(target.url);
  await setup.query(`CREATE TABLE orders (id int PRIMARY KEY)`);
  await setup.end();
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}`,
      quorum: `environment: staging\nengine: self-hosted\nurl: ${target.url}\npolicy:\n  approvals: { destructive: 2 }`,
    }),
  });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

/** Makes the wire sign everything with this timestamp and remembers the last raw body it sent. */
function pinWire(timestampSec: number) {
  const wire = tb.wire;
  const orig = wire.post.bind(wire);
  const sent: { body?: string } = {};
  wire.post = (body: string, o: PostOptions = {}) => {
    sent.body = body;
    return orig(body, { ...o, timestampSec });
  };
  return { sent, timestampSec, resend: (): Promise<WireResponse> => orig(sent.body!, { timestampSec }), restore: () => void (wire.post = orig) };
}

const runCount = async () => Number((await stateQuery(tb, `SELECT count(*)::int AS n FROM runs`)).rows[0].n);

it('a signed request dated more than 5 minutes in the future is refused with 401 and does nothing', async () => {
  const runs = await runCount();
  const replies = tb.fake.callsOf('response_url').length;
  const pin = pinWire(Math.floor(Date.now() / 1000) + 6 * 60);
  try {
    const res = await tb.wire.slashCommand({ text: 'status demo', userId: REQUESTER, channelId: OPS });
    expect(res.status).toBe(401);
  } finally {
    pin.restore();
  }
  await new Promise((r) => setTimeout(r, 1000));
  expect(await runCount()).toBe(runs);
  expect(tb.fake.callsOf('response_url').length).toBe(replies);
  // Within the window it is served.
  const pin2 = pinWire(Math.floor(Date.now() / 1000) + 60);
  try {
    expect(await ask(tb, 'status demo')).toMatch(/Connections \(cluster\)/);
  } finally {
    pin2.restore();
  }
});

it('a replayed signed slash command is a no-op', async () => {
  const runs = await runCount();
  const pin = pinWire(Math.floor(Date.now() / 1000));
  try {
    const first = await tb.wire.slashCommand({ text: 'status demo', userId: REQUESTER, channelId: OPS });
    expect(first.status).toBe(200);
    await eventually(async () => (await runCount()) === runs + 1, 15_000, 'first run');
    const again = await pin.resend();
    expect(again.status).toBe(200);
    expect(again.body).toBe('');
  } finally {
    pin.restore();
  }
  await new Promise((r) => setTimeout(r, 1000));
  expect(await runCount()).toBe(runs + 1);
});

it('a replayed approval click records one approval and answers once', async () => {
  await tb.wire.slashCommand({ text: 'vacuum quorum orders --full', userId: REQUESTER, channelId: OPS });
  const card = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)));
  const cardTs = (card.response as { ts: string }).ts;
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  await tb.fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId));
  const pin = pinWire(Math.floor(Date.now() / 1000));
  let repliesAfterFirst = 0;
  try {
    const before = tb.fake.callsOf('response_url').length;
    expect((await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_approve', value: runId })).status).toBe(200);
    await eventually(async () => (await stateQuery(tb, `SELECT count(*)::int AS n FROM approvals WHERE run_id = $1`, [runId])).rows[0].n === 1, 15_000, 'approval recorded');
    await eventually(() => tb.fake.callsOf('response_url').length > before, 15_000, 'approval answer');
    repliesAfterFirst = tb.fake.callsOf('response_url').length;
    const again = await pin.resend();
    expect(again.status).toBe(200);
  } finally {
    pin.restore();
  }
  await new Promise((r) => setTimeout(r, 1000));
  expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM approvals WHERE run_id = $1`, [runId])).rows[0].n).toBe(1);
  expect(tb.fake.callsOf('response_url').length).toBe(repliesAfterFirst);
});

it('a signed approval click replayed to ANOTHER replica (same Redis) is acked there and does nothing: one approval, one answer', async () => {
  const other = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}`, quorum: `environment: staging\nengine: self-hosted\nurl: ${target.url}\npolicy:\n  approvals: { destructive: 2 }` }), fake: tb.fake, stateDb: tb.stateDb, prefix: tb.env.DBOPS_QUEUE_PREFIX! });
  try {
    await tb.wire.slashCommand({ text: 'vacuum quorum orders --full --reason replica', userId: REQUESTER, channelId: OPS });
    const card = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)) && /replica/.test(JSON.stringify(c.args)));
    const cardTs = (card.response as { ts: string }).ts;
    const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
    // The requester's "waiting" reply comes after the card: counted before the click.
    await tb.fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId));
    const pin = pinWire(Math.floor(Date.now() / 1000));
    let replies = 0;
    try {
      const before = tb.fake.callsOf('response_url').length;
      await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_approve', value: runId });
      await eventually(() => tb.fake.callsOf('response_url').length > before, 15_000, 'approval answer');
      replies = tb.fake.callsOf('response_url').length;
      // The same signed bytes, to the other replica: it has not seen them itself; Redis has.
      const again = await other.wire.post(pin.sent.body!, { timestampSec: pin.timestampSec });
      expect(again.status).toBe(200);
    } finally {
      pin.restore();
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(other.logs.join('')).toContain('another replica handled it first');
    expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM approvals WHERE run_id = $1`, [runId])).rows[0].n).toBe(1);
    expect(tb.fake.callsOf('response_url').length).toBe(replies);
  } finally {
    await other.bot.stop();
  }
});

it('answers given in the ack (help, targets, a typo) leave nothing in Redis; a command that acts is marked there for the other replicas', async () => {
  const redis = new Redis(tb.env.REDIS_URL!, { lazyConnect: true });
  await redis.connect();
  try {
    const seen = async () => (await redis.keys(`${tb.env.DBOPS_QUEUE_PREFIX}:seen:*`)).length;
    const before = await seen();
    for (const text of ['help', 'targets', 'stauts demo', 'help vacuum']) {
      const res = await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
      expect(res.status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await seen()).toBe(before);
    expect(await ask(tb, 'status demo')).toMatch(/Connections \(cluster\)/);
    expect(await seen()).toBe(before + 1);
  } finally {
    redis.disconnect();
  }
});

/** POSTs a body to a path of the bot with the given headers; resolves with the status. */
async function postTo(path: string, body: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${tb.bot.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  await res.arrayBuffer();
  return res.status;
}

it('an unsigned request is refused with 401 and does nothing, whatever path spelling reaches the endpoint; an unsigned ssl_check carries no payload in', async () => {
  const analyzeRuns = async () => Number((await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE runbook = 'analyze'`)).rows[0].n);
  const before = { runs: await analyzeRuns(), replies: tb.fake.callsOf('response_url').length };
  const command = { command: '/db', text: 'analyze demo', user_id: REQUESTER, channel_id: OPS, response_url: tb.fake.responseUrlFor({ channel: OPS, user: REQUESTER }), trigger_id: 't.unsigned' };
  const form = new URLSearchParams(command).toString();
  const ts = String(Math.floor(Date.now() / 1000));
  for (const path of ['/slack/events', '/slack/events?x=1', '/slack/./events', '/slack/x/../events']) {
    expect(await postTo(path, form, {}), path).toBe(401);
    expect(await postTo(path, form, { 'x-slack-request-timestamp': ts }), path).toBe(401);
  }
  // Slack's SSL check is unsigned and answered 200; a command smuggled in its payload is not run.
  expect(await postTo('/slack/events', new URLSearchParams({ ssl_check: '1', payload: JSON.stringify(command) }).toString(), {})).toBe(200);
  expect(await postTo('/slack/events', new URLSearchParams({ ssl_check: '1', ...command }).toString(), {})).toBe(200);
  await new Promise((r) => setTimeout(r, 800));
  expect(await analyzeRuns()).toBe(before.runs);
  expect(tb.fake.callsOf('response_url').length).toBe(before.replies);
  // The same command signed is served: the refusals above were about the signature.
  expect(await ask(tb, 'analyze demo')).toMatch(/analyze/i);
});

/** Sends headers (and optionally a body) to /slack/events; resolves with the status, or the socket error. */
function rawPost(headers: Record<string, string | number>, body?: Buffer): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${tb.bot.url}/slack/events`, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    if (body) req.end(body);
    else req.flushHeaders();
  });
}

it('an oversize body is refused with 413 before it is read, and many of them do not grow the process', async () => {
  const big = Math.floor(3.9 * 1024 * 1024);
  const ts = String(Math.floor(Date.now() / 1000));
  // Headers only: the answer comes without the body ever being sent.
  expect(await rawPost({ 'content-type': 'application/x-www-form-urlencoded', 'content-length': big, 'x-slack-request-timestamp': ts, 'x-slack-signature': 'v0=00' })).toBe(413);
  // Chunked (no Content-Length): counted while reading.
  const chunked = await rawPost({ 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked', 'x-slack-request-timestamp': ts, 'x-slack-signature': 'v0=00' }, Buffer.alloc(600 * 1024, 'a'));
  expect([413, 'ECONNRESET', 'EPIPE']).toContain(chunked);
  // A legitimate-size signed body still works.
  const small = 'token=x&ssl_check=1';
  const signed = signSlackRequest(SIGNING_SECRET, small);
  expect(await rawPost({ 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(small), ...signed }, Buffer.from(small))).toBe(200);

  const body = Buffer.alloc(big, 'a');
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const results = await Promise.all(Array.from({ length: 50 }, () => rawPost({ 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length, 'x-slack-request-timestamp': ts, 'x-slack-signature': 'v0=00' }, body)));
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  expect(results.every((r) => r === 413 || r === 'ECONNRESET' || r === 'EPIPE')).toBe(true);
  expect(results.filter((r) => r === 413).length).toBeGreaterThan(0);
  // Bolt alone buffered each of these (50 × 3.9 MB ≈ 200 MB, more with copies); refused unread, the growth stays small.
  expect((peak - before) / 1024 / 1024).toBeLessThan(80);
});

it('/metrics needs the bearer token', async () => {
  expect((await fetch(`${tb.bot.url}/metrics`)).status).toBe(401);
  expect((await fetch(`${tb.bot.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
  const ok = await fetch(`${tb.bot.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(ok.status).toBe(200);
  expect(await ok.text()).toContain('dbops_requests_total');
});

it('with DBOPS_METRICS_PORT /metrics is on its own port; with neither setting it is not served', async () => {
  const own = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), env: { DBOPS_METRICS_PORT: '0' } });
  try {
    expect(own.bot.metricsPort).toBeGreaterThan(0);
    expect((await fetch(`${own.bot.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${own.bot.metricsPort}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${own.bot.metricsPort}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
  } finally {
    await own.stop();
  }
  const none = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), env: { DBOPS_METRICS_TOKEN: '' } });
  try {
    expect((await fetch(`${none.bot.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${none.bot.url}/healthz`)).status).toBe(200);
  } finally {
    await none.stop();
  }
});
