import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
const held: pg.Client[] = [];

beforeAll(async () => {
  target = await createTestDatabase('status');
  const setup = await connect(target.url);
  await setup.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 100) g`);
  await setup.end();
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  for (const c of held) await c.end().catch(() => undefined);
  await tb?.stop();
  await target?.drop();
});

it('/db status names idle, idle-in-transaction and blocked sessions with their blocker', async () => {
  const idle = await connect(target.url, 'idle-worker');
  const idleTx = await connect(target.url, 'leaky-app');
  await idleTx.query('BEGIN; SELECT * FROM accounts WHERE id = 1');
  const blocker = await connect(target.url, 'lock-holder');
  await blocker.query('BEGIN; UPDATE accounts SET balance = 1 WHERE id = 2');
  const blocked = await connect(target.url, 'victim-app');
  const blockedQuery = blocked.query('UPDATE accounts SET balance = 2 WHERE id = 2').catch(() => undefined);
  held.push(idle, idleTx, blocker, blocked);
  const blockerPid = (await blocker.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
  const blockedPid = (blocked as unknown as { processID: number }).processID;
  await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [blockedPid])).rowCount, 5000, 'blocked');

  const res = await tb.wire.slashCommand({ text: 'status demo', userId: REQUESTER, channelId: OPS });
  expect(res.status).toBe(200);
  expect(res.ms).toBeLessThan(3000);
  const call = await tb.fake.waitForCall('response_url', undefined, 15_000);
  const args = call.args as { response_type: string };
  expect(args.response_type).toBe('in_channel');
  const text = textOf(call.args as never);
  expect(text).toMatch(/Connections \(cluster\)\*\n\d+ \/ \d+ \(\d+(\.\d)?%\)/);
  expect(text).toContain('idle in transaction');
  expect(text).toContain('leaky-app');
  expect(text).toContain('idle-worker');
  expect(text).toContain('Blocked queries');
  expect(text).toContain(`pid *${blockedPid}*`);
  expect(text).toContain(`*${blockerPid}*`);
  expect(text).toContain('UPDATE accounts SET balance = 2');
  expect(text).toMatch(/Size\*\n\d+ [kM]B/);

  // Recorded as a read run, with its audit rows.
  const runs = await stateQuery(tb, `SELECT state, risk FROM runs WHERE runbook = 'status'`);
  expect(runs.rows).toEqual([{ state: 'succeeded', risk: 'read' }]);
  const audit = await stateQuery(tb, `SELECT action, outcome, actor FROM audit ORDER BY id`);
  expect(audit.rows.map((r) => `${r.action}:${r.outcome}`)).toEqual(['request:running', 'step:done', 'finish:succeeded']);
  expect(audit.rows[0].actor).toBe(REQUESTER);

  await blocker.query('ROLLBACK');
  await blockedQuery;
});
