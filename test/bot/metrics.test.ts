// /metrics grows what a platform team alerts on: ack latency, approval wait, queue depth and oldest
// waiting age, provider errors, target query latency; labels only from fixed sets.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER, eventually, INCIDENTS, metricValue, OPS, REQUESTER, ask, scrapeMetrics, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { Metrics } from '../../src/metrics.js';
import { ProviderError } from '../../src/providers/errors.js';

let target: Awaited<ReturnType<typeof createTestDatabase>>;
let tb: TestBot;

beforeAll(async () => {
  target = await createTestDatabase('metrics');
  const setup = await connect(target.url);
  await setup.query(`CREATE TABLE orders (id int PRIMARY KEY)`);
  await setup.end();
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
}, 60_000);
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});


it('after a request and an approval, /metrics has ack latency, approval wait, queue and target query series', async () => {
  expect(await ask(tb, 'status demo')).toMatch(/Connections/);
  await tb.wire.slashCommand({ text: 'vacuum demo orders --full', userId: REQUESTER, channelId: OPS });
  const card = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)));
  const cardTs = (card.response as { ts: string }).ts;
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  expect((await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_approve', value: runId })).status).toBe(200);
  await eventually(async () => {
    const r = (await stateQuery(tb, `SELECT state, next_step, error, lease_owner FROM runs WHERE id = $1`, [runId])).rows[0];
    if (r.state !== 'succeeded') throw new Error(JSON.stringify(r));
    return true;
  }, 30_000, 'run finished');

  const body = await eventually(async () => {
    const b = await scrapeMetrics(tb);
    return (metricValue(b, 'dbops_ack_duration_seconds_count{kind="interactive"}') ?? 0) >= 1 ? b : undefined;
  }, 10_000, 'ack of the click counted');
  expect(metricValue(body, 'dbops_ack_duration_seconds_count{kind="command"}')).toBeGreaterThanOrEqual(2);
  // Slack's 3 s deadline: every ack here was well inside it.
  expect(metricValue(body, 'dbops_ack_duration_seconds_bucket{le="3",kind="command"}')).toBe(metricValue(body, 'dbops_ack_duration_seconds_count{kind="command"}'));
  expect(metricValue(body, 'dbops_approval_wait_seconds_count{decision="approved"}')).toBe(1);
  expect(metricValue(body, 'dbops_queue_oldest_waiting_seconds{queue="runs"}')).toBe(0);
  expect(body).toMatch(/^dbops_queue_jobs\{state="waiting"\} 0$/m);
  expect(metricValue(body, 'dbops_target_query_seconds_count{target="demo",outcome="ok"}')).toBeGreaterThan(0);
  expect(body).toContain('# TYPE dbops_provider_errors_total counter');
  // Labels only from fixed sets: no run id, user, URL or SQL in the exposition.
  expect(body).not.toContain(runId);
  expect(body).not.toContain(REQUESTER);
  expect(body).not.toMatch(/postgres:\/\//);
  expect(body).not.toMatch(/VACUUM|SELECT /);
}, 60_000);

it('provider errors are counted by engine and code, anything else as other', () => {
  const m = new Metrics();
  m.countProviderError(new ProviderError('aws-rds', 'throttled', 'slow down'));
  m.countProviderError(new ProviderError('aws-rds', 'throttled', 'slow down'));
  m.countProviderError({ engine: 'oracle', reason: 'ORA-00942 table or view does not exist' });
  m.countProviderError(new Error('not a provider error'));
  const v = (m.providerErrors as unknown as { hashMap: Record<string, { value: number; labels: Record<string, string> }> }).hashMap;
  const rows = Object.values(v).map((x) => ({ ...x.labels, n: x.value }));
  expect(rows).toEqual(expect.arrayContaining([{ engine: 'aws-rds', code: 'throttled', n: 2 }, { engine: 'other', code: 'other', n: 1 }]));
  expect(rows).toHaveLength(2);
});

it('a worker (no Slack endpoint) answers /healthz and /readyz on the metrics port, for its probes', async () => {
  const w = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), env: { DBOPS_METRICS_PORT: '0' }, start: { role: 'worker' } });
  try {
    const base = `http://127.0.0.1:${w.bot.metricsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, checks: { redis: true, stateDb: true } });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
  } finally {
    await w.stop();
  }
}, 60_000);
