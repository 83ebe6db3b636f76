import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase } from '../helpers/db.js';
import { connectAs, createTestRole } from '../postgres/support.js';
import { APPROVER, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import type pg from 'pg';

// The machine trusts local connections, so the password is never checked: it only has to stay secret.
const PASSWORD = 'Sup3r-Secret-pw_4242';
const ENV_VALUE = `postgres://postgres:${PASSWORD}@`;

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
const held: pg.Client[] = [];

beforeAll(async () => {
  target = await createTestDatabase('secret');
  role = await createTestRole('sec');
  const c = await connect(target.url);
  await c.query(`CREATE TABLE orders (id int, v text) WITH (autovacuum_enabled = false); INSERT INTO orders SELECT g, 'x' FROM generate_series(1, 2000) g; DELETE FROM orders WHERE id < 1000`);
  await c.end();
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: production\nengine: self-hosted\nurl: \${SECRET_TARGET_URL}`,
      broken: `environment: staging\nengine: self-hosted\nurl: postgres://postgres:${PASSWORD}@127.0.0.1:1/none`,
    }),
    env: { SECRET_TARGET_URL: target.url.replace('postgres://postgres@', ENV_VALUE) },
  });
});
afterAll(async () => {
  for (const c of held) await c.end().catch(() => undefined);
  await tb?.stop();
  await target?.drop();
  await role?.drop();
});

async function say(text: string, user = REQUESTER) {
  const before = tb.fake.callsOf('response_url').length;
  const res = await tb.wire.slashCommand({ text, userId: user, channelId: OPS });
  if (res.body) return;
  await eventually(() => tb.fake.callsOf('response_url')[before], 15_000, `reply to ${text}`);
}

it('no secret from the targets file reaches Slack or the logs, for every verb, success and failure', async () => {
  const idle = await connectAs(target.url, role.name, 'idle-app');
  held.push(idle);
  for (const text of ['help', 'help kill', 'targets', 'status demo', 'connections demo', 'locks demo', 'vacuum demo orders', 'analyze demo orders', 'status broken', 'vacuum broken orders', 'runs', 'audit', 'audit verify']) {
    await say(text);
  }
  // Production "change" plans are announced; destructive ones need approval: run a kill through it.
  const before = tb.fake.callsOf('chat.postMessage').length;
  await say(`kill demo idle --app idle-app`);
  const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [runId])).rowCount, 20_000, 'kill done');
  await say(`run ${runId}`);
  await eventually(async () => (await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE state IN ('queued','running')`)).rows[0].n === 0, 20_000, 'all runs done');

  // The result is posted through the rate-spaced notifier: wait for it before reading everything.
  await eventually(() => JSON.stringify(tb.fake.calls).includes('Terminated 1 of 1'), 20_000, 'kill result posted');
  const slack = JSON.stringify(tb.fake.calls);
  const logs = tb.logs.join('');
  const audit = JSON.stringify((await stateQuery(tb, 'SELECT * FROM audit')).rows) + JSON.stringify((await stateQuery(tb, 'SELECT * FROM runs')).rows);
  for (const where of [slack, logs, audit]) {
    expect(where).not.toContain(PASSWORD);
    expect(where).not.toContain(ENV_VALUE);
  }
  // And the failures were explained, not hidden.
  expect(slack).toContain('Could not connect to target broken');
  expect(slack).toMatch(/Terminated 1 of 1/);
});
