import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createTestDatabase, bloatedTable, throttleVacuum } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

async function targetQuery(sql: string, params: unknown[] = []) {
  const c = await connect(target.url);
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

const makeBloatedTable = (name: string, rows: number) => bloatedTable(target.url, name, rows);

beforeAll(async () => {
  target = await createTestDatabase('vacuum');
  // Throttle VACUUM in this database so the live progress can be observed mid-run.
  await throttleVacuum(target.name, '2ms', 5);
  await makeBloatedTable('orders', 60_000);
  await targetQuery(`CREATE SCHEMA sales; CREATE TABLE sales."Big Orders" (id int) WITH (autovacuum_enabled = false); INSERT INTO sales."Big Orders" SELECT generate_series(1, 1000); DELETE FROM sales."Big Orders" WHERE id < 500`);
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

describe('/db vacuum', () => {
  it('queues a run, shows live progress in a thread, and reports the result; the table is vacuumed', async () => {
    const before = (await targetQuery(`SELECT n_dead_tup::int AS d, last_vacuum FROM pg_stat_user_tables WHERE relname = 'orders'`)).rows[0];
    expect(before.d).toBeGreaterThan(20_000);
    expect(before.last_vacuum).toBeNull();

    const res = await tb.wire.slashCommand({ text: 'vacuum demo orders --analyze', userId: REQUESTER, channelId: OPS });
    expect(res.status).toBe(200);
    const queued = await tb.fake.waitForCall('response_url');
    expect(textOf(queued.args as never)).toMatch(/Queued `r_[0-9a-f]+`/);

    // Request message in the channel, then a progress message in its thread that is updated live.
    const head = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === OPS && !c.args.thread_ts);
    expect(textOf(head.args as never)).toContain('VACUUM ANALYZE public.orders');
    const headTs = (head.response as { ts: string }).ts;
    const progress = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.thread_ts === headTs);
    const progressTs = (progress.response as { ts: string }).ts;
    const result = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.thread_ts === headTs && /dead tuples/.test(textOf(c.args as never)), 60_000);
    const updates = tb.fake.callsOf('chat.update').filter((c) => c.args.ts === progressTs).map((c) => textOf(c.args as never));
    expect(updates.some((t) => /scanning heap|vacuuming|blocks scanned/.test(t) && /▓|░/.test(t))).toBe(true);
    const resultText = textOf(result.args as never);
    expect(resultText).toMatch(/dead tuples \d+ → 0/);
    expect(resultText).toContain('Duration');
    expect(resultText).toContain('Pages');

    const after = (await targetQuery(`SELECT n_dead_tup::int AS d, last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'orders'`)).rows[0];
    expect(after.last_vacuum).not.toBeNull();
    expect(after.last_analyze).not.toBeNull();
    expect(after.d).toBeLessThan(before.d);

    const run = (await stateQuery(tb, `SELECT id, state, next_step FROM runs WHERE runbook = 'vacuum'`)).rows[0];
    expect(run).toMatchObject({ state: 'succeeded', next_step: 3 });
    const audit = await stateQuery(tb, `SELECT action, outcome FROM audit WHERE run_id = $1 ORDER BY id`, [run.id]);
    expect(audit.rows.map((r) => `${r.action}:${r.outcome}`)).toEqual(['request:queued', 'start:running', 'step:done', 'step:done', 'step:done', 'finish:succeeded']);
    // The request message shows the final state.
    await eventually(() => tb.fake.callsOf('chat.update').some((c) => c.args.ts === headTs && /succeeded/.test(textOf(c.args as never))), 5000, 'request message updated');
  });

  it('resolves schema-qualified and quoted names through the catalog', async () => {
    await tb.wire.slashCommand({ text: 'vacuum demo sales."Big Orders"', userId: REQUESTER, channelId: OPS });
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE plan->>'summary' LIKE '%sales.Big Orders%' AND state = 'succeeded'`)).rowCount, 20_000, 'quoted vacuum');
    const row = (await targetQuery(`SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'Big Orders'`)).rows[0];
    expect(row.last_vacuum).not.toBeNull();
  });

  for (const [text, want] of [
    ['vacuum demo nosuchtable', /nosuchtable/],
    ['vacuum demo "orders; DROP TABLE orders"', /orders; DROP TABLE orders/],
    ['vacuum demo 12345', /number|OID|digit/i],
  ] as const) {
    it(`refuses ${text} with a clear error and runs nothing`, async () => {
      tb.fake.reset();
      await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
      const call = await tb.fake.waitForCall('response_url');
      const t = textOf(call.args as never);
      expect(t).toMatch(want);
      expect((call.args as { response_type: string }).response_type).toBe('ephemeral');
      expect((await targetQuery(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(30_000);
    });
  }

  it('analyze runs for the whole database', async () => {
    await tb.wire.slashCommand({ text: 'analyze demo', userId: REQUESTER, channelId: OPS });
    const run = await eventually(async () => (await stateQuery(tb, `SELECT state FROM runs WHERE runbook = 'analyze' AND state IN ('succeeded','failed')`)).rows[0], 20_000, 'analyze run');
    expect(run.state).toBe('succeeded');
    const t = (await targetQuery(`SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'Big Orders'`)).rows[0];
    expect(t.last_analyze).not.toBeNull();
  });
});

describe('failure', () => {
  it('a VACUUM that cannot get its lock fails clearly: error and the state left, in the thread', async () => {
    await makeBloatedTable('busy', 1000);
    const holder = await connect(target.url, 'long-report');
    await holder.query('BEGIN; LOCK TABLE busy IN SHARE MODE');
    try {
      tb.fake.reset();
      await tb.wire.slashCommand({ text: 'vacuum demo busy', userId: REQUESTER, channelId: OPS });
      const failure = await tb.fake.waitForCall('chat.postMessage', (c) => /^Failed:/.test(String(c.args.text)), 30_000);
      const text = textOf(failure.args as never);
      expect(text).toMatch(/failed\* at step \*vacuum\*/);
      expect(text).toMatch(/Could not lock .*busy.* within lock_timeout/);
      expect(text).toMatch(/State left:\* Plain VACUUM changes no data: the table is intact/);
      const run = (await stateQuery(tb, `SELECT state, error FROM runs WHERE plan->>'summary' LIKE '%public.busy%'`)).rows[0];
      expect(run.state).toBe('failed');
      const step = (await stateQuery(tb, `SELECT rs.state FROM run_steps rs JOIN runs r ON r.id = rs.run_id WHERE r.plan->>'summary' LIKE '%public.busy%' AND rs.name = 'vacuum'`)).rows[0];
      expect(step.state).toBe('failed');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  }, 40_000);
});
