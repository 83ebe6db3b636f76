import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// 2 web + 2 worker processes on one Redis and one state database: every run executes exactly once
// and every message lands in its own run's thread.
const TABLES = 20;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let webs: TestBot[] = [];
let workers: TestBot[] = [];

beforeAll(async () => {
  target = await createTestDatabase('scale');
  const c = await connect(target.url);
  for (let i = 0; i < TABLES; i++) await c.query(`CREATE TABLE t${i} (id int) WITH (autovacuum_enabled = false); INSERT INTO t${i} SELECT generate_series(1, 200); DELETE FROM t${i} WHERE id % 2 = 0`);
  await c.end();
  const targets = targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nmaxBotSessions: 6\nmaxDestructiveRuns: 20` });
  const first = await startTestBot({ targets, start: { role: 'web' } });
  const shared = { fake: first.fake, stateDb: first.stateDb, prefix: first.env.DBOPS_QUEUE_PREFIX! };
  webs = [first, await startTestBot({ targets, ...shared, start: { role: 'web' } })];
  workers = [await startTestBot({ targets, ...shared, start: { role: 'worker' } }), await startTestBot({ targets, ...shared, start: { role: 'worker' } })];
}, 60_000);
afterAll(async () => {
  // Each TestBot would close the shared fake and drop the shared state DB: stop the extra ones' bots only.
  for (const tb of [...workers, webs[1]]) await tb?.bot.stop();
  await webs[0]?.stop();
  await target?.drop();
});

it('200 commands and 50 approvals alternating between two web processes: each run once, each message in its thread', async () => {
  const [a, b] = webs as [TestBot, TestBot];
  const fake = a.fake;
  // 150 change runs (queued at once) and 50 destructive ones (approved through the other web).
  const sends: Array<Promise<unknown>> = [];
  for (let i = 0; i < 200; i++) {
    const web = i % 2 === 0 ? a : b;
    const full = i % 4 === 3;
    sends.push(web.wire.slashCommand({ text: `vacuum demo t${i % TABLES}${full ? ' --full' : ''}`, userId: REQUESTER, channelId: OPS }));
  }
  await Promise.all(sends);
  const cards = await eventually(() => {
    const posted = fake.callsOf('chat.postMessage').filter((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)));
    return posted.length >= 50 && posted;
  }, 60_000, '50 approval cards');
  expect(cards).toHaveLength(50);
  await Promise.all(
    cards.map((card, i) => {
      const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
      const web = i % 2 === 0 ? b : a;
      return web.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
    }),
  );

  const runs = await eventually(async () => {
    const r = (await stateQuery(a, `SELECT id, state, attempts, thread_channel, thread_ts, risk FROM runs WHERE runbook = 'vacuum'`)).rows;
    return r.length === 200 && r.every((x) => x.state === 'succeeded' || x.state === 'failed') && r;
  }, 150_000, 'all 200 runs finished');
  expect(runs.filter((r) => r.state !== 'succeeded')).toEqual([]);
  expect(runs.every((r) => r.attempts === 1)).toBe(true);

  const starts = (await stateQuery(a, `SELECT run_id, count(*)::int AS n FROM audit WHERE action IN ('start','resume') GROUP BY run_id`)).rows;
  expect(starts).toHaveLength(200);
  expect(starts.every((s) => s.n === 1)).toBe(true);
  const steps = (await stateQuery(a, `SELECT max(attempts)::int AS max, count(*)::int AS n FROM run_steps`)).rows[0];
  expect(steps).toEqual({ max: 1, n: 600 });

  // Every result message names its own run and sits in that run's thread, exactly once.
  await eventually(() => fake.callsOf('chat.postMessage').filter((c) => /^(Done|Finished with a warning):/.test(String(c.args.text ?? ''))).length >= 200, 60_000, '200 results posted');
  const results = fake.callsOf('chat.postMessage').filter((c) => /^(Done|Finished with a warning):/.test(String(c.args.text ?? '')));
  expect(results).toHaveLength(200);
  for (const run of runs) {
    const mine = results.filter((c) => JSON.stringify(c.args).includes(run.id));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.args.channel).toBe(run.thread_channel);
    expect(mine[0]!.args.thread_ts).toBe(run.thread_ts);
  }
  // Progress messages too: each run's progress updates target the message in its own thread.
  const progressPosts = fake.callsOf('chat.postMessage').filter((c) => c.args.thread_ts && /Measuring|Vacuuming|starting|resuming/.test(textOf(c.args as never)));
  for (const p of progressPosts) {
    const owner = runs.find((r) => JSON.stringify(p.args).includes(r.id));
    if (owner) expect(p.args.thread_ts).toBe(owner.thread_ts);
  }
}, 240_000);
