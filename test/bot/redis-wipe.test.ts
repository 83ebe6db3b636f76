import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger, loadConfig, startBot } from '../../src/index.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  target = await createTestDatabase('wipe');
  const c = await connect(target.url);
  await c.query(`CREATE TABLE t (id int) WITH (autovacuum_enabled = false); INSERT INTO t SELECT generate_series(1, 1000); DELETE FROM t WHERE id < 500`);
  await c.end();
  // Web only: the run stays queued while Redis loses everything.
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), start: { role: 'web' } });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

it('Redis wiped while a run is queued: Postgres is the source of truth and the run still happens, once', async () => {
  await tb.wire.slashCommand({ text: 'vacuum demo t', userId: REQUESTER, channelId: OPS });
  const run = await eventually(async () => (await stateQuery(tb, `SELECT id FROM runs WHERE state = 'queued'`)).rows[0], 10_000, 'queued run');
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${tb.env.DBOPS_QUEUE_PREFIX}:*`);
  expect(keys.length).toBeGreaterThan(0);
  await redis.del(...keys);
  expect(await redis.keys(`${tb.env.DBOPS_QUEUE_PREFIX}:*`)).toEqual([]);
  await redis.quit();

  const worker = await startBot(loadConfig({ ...process.env, ...tb.env }), { role: 'worker', logger: createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }) });
  try {
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [run.id])).rowCount, 20_000, 'run succeeded');
  } finally {
    await worker.stop();
  }
  const audit = (await stateQuery(tb, `SELECT action FROM audit WHERE run_id = $1 AND action IN ('start', 'finish')`, [run.id])).rows.map((r) => r.action);
  expect(audit).toEqual(['start', 'finish']);
});
