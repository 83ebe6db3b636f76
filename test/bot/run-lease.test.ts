import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig, startBot } from '../../src/index.js';
import { adminQuery, bloatedTable, connect, createTestDatabase } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// An approved step runs once, whatever Redis does: the right to execute is a lease in Postgres.
let target: Awaited<ReturnType<typeof createTestDatabase>>;

async function tableStats(table: string): Promise<{ vacuums: number; dead: number }> {
  const c = await connect(target.url);
  try {
    return (await c.query(`SELECT vacuum_count::int AS vacuums, n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE relname = $1`, [table])).rows[0];
  } finally {
    await c.end();
  }
}

/**
 * Holds the step deterministically: a SHARE lock makes the bot's VACUUM wait (its lock_timeout is
 * raised by --lock-timeout), so the step is "running" for as long as the test needs, whatever the
 * machine's speed; `release()` lets it finish.
 */
async function holdTable(table: string): Promise<{ release: () => Promise<void> }> {
  const c = await connect(target.url, 'lease-test-holder');
  await c.query('BEGIN');
  await c.query(`LOCK TABLE ${table} IN SHARE MODE`);
  return { release: async () => void (await c.query('ROLLBACK'), await c.end()) };
}

/** The bot's VACUUM of `table` is waiting for its lock (so the vacuum step is in progress). */
const vacuumWaiting = (attempt = 1) =>
  eventually(
    async () =>
      (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dbops' AND wait_event_type = 'Lock' AND query ILIKE 'VACUUM%'`, [target.name])).rowCount,
    30_000,
    `VACUUM (attempt ${attempt}) waiting on the held table`,
  );

async function runOf(tb: TestBot, table: string): Promise<{ id: string }> {
  return eventually(async () => (await stateQuery(tb, `SELECT id FROM runs WHERE runbook = 'vacuum' AND args->>'table' = $1`, [table])).rows[0], 15_000, `run for ${table}`);
}

const finished = (tb: TestBot, id: string) =>
  eventually(async () => (await stateQuery(tb, `SELECT state, attempts FROM runs WHERE id = $1 AND state IN ('succeeded','failed')`, [id])).rows[0], 120_000, 'run finished');

/** Result messages the bot posted for a run (the thread's "dead tuples a → b" line). */
const resultPosts = (tb: TestBot, table: string) => tb.fake.callsOf('chat.postMessage').filter((c) => c.args.thread_ts && new RegExp(`VACUUM public\\.${table}: dead tuples`).test(textOf(c.args as never)));

async function wipeRedis(prefix: string): Promise<void> {
  const redis = new Redis('redis://127.0.0.1:6379');
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}

beforeAll(async () => {
  target = await createTestDatabase('lease');
  for (const t of ['wiped', 'stolen', 'doubled']) await bloatedTable(target.url, t, 3_000, 200);
});
afterAll(async () => {
  await target?.drop();
});

describe('one process (web + worker)', () => {
  let tb: TestBot;
  beforeAll(async () => {
    tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it('Redis flushed mid-step: the running step is not re-enqueued, VACUUM ran once, one result message', async () => {
    const held = await holdTable('wiped');
    await tb.wire.slashCommand({ text: 'vacuum demo wiped --lock-timeout 2m', userId: REQUESTER, channelId: OPS });
    const run = await runOf(tb, 'wiped');
    await vacuumWaiting();
    await wipeRedis(tb.env.DBOPS_QUEUE_PREFIX!);
    // Housekeeping reschedules itself and sweeps every second: let it sweep several times mid-step.
    const redis = new Redis('redis://127.0.0.1:6379');
    try {
      await eventually(async () => (await redis.keys(`${tb.env.DBOPS_QUEUE_PREFIX}:maintenance:*`)).length > 0, 15_000, 'housekeeping back in Redis');
    } finally {
      await redis.quit();
    }
    await new Promise((r) => setTimeout(r, 3000));
    const mid = (await stateQuery(tb, `SELECT r.state, s.state AS step FROM runs r JOIN run_steps s ON s.run_id = r.id AND s.name = 'vacuum' WHERE r.id = $1`, [run.id])).rows[0];
    expect(mid).toEqual({ state: 'running', step: 'running' }); // the sweeps happened while the step ran
    await held.release();

    const done = await finished(tb, run.id);
    expect(done).toEqual({ state: 'succeeded', attempts: 1 });
    expect((await tableStats('wiped')).vacuums).toBe(1);
    const steps = (await stateQuery(tb, `SELECT name, attempts FROM run_steps WHERE run_id = $1 ORDER BY idx`, [run.id])).rows;
    expect(steps).toEqual([{ name: 'before', attempts: 1 }, { name: 'vacuum', attempts: 1 }, { name: 'after', attempts: 1 }]);
    await eventually(() => resultPosts(tb, 'wiped').length > 0, 10_000, 'result message');
    await new Promise((r) => setTimeout(r, 1500)); // anything posted late would show up here
    expect(resultPosts(tb, 'wiped')).toHaveLength(1);
  }, 150_000);

  it('a worker whose lease is taken over stands down without recording its step; the run resumes at that step once the lease expires', async () => {
    const held = await holdTable('stolen');
    await tb.wire.slashCommand({ text: 'vacuum demo stolen --lock-timeout 2m', userId: REQUESTER, channelId: OPS });
    const run = await runOf(tb, 'stolen');
    await vacuumWaiting();
    // Another executor claims the run (fence bumped) and then dies: its lease runs out in 2 s.
    await stateQuery(tb, `UPDATE runs SET lease_fence = lease_fence + 1, lease_owner = 'elsewhere', lease_expires_at = now() + interval '2 seconds' WHERE id = $1`, [run.id]);
    await eventually(() => tb.logs.some((l) => l.includes(run.id) && l.includes('standing down')), 15_000, 'first executor stands down');
    // The takeover (after the stolen lease expires) starts the vacuum step again; then let it run.
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM run_steps WHERE run_id = $1 AND name = 'vacuum' AND attempts = 2`, [run.id])).rowCount, 20_000, 'second attempt of the vacuum step');
    await held.release();

    const done = await finished(tb, run.id);
    expect(done.state).toBe('succeeded');
    const steps = (await stateQuery(tb, `SELECT name, state, attempts FROM run_steps WHERE run_id = $1 ORDER BY idx`, [run.id])).rows;
    // "before" was not repeated; "vacuum" was interrupted once and then done by the new holder.
    expect(steps).toEqual([
      { name: 'before', state: 'done', attempts: 1 },
      { name: 'vacuum', state: 'done', attempts: 2 },
      { name: 'after', state: 'done', attempts: 1 },
    ]);
    const audit = (await stateQuery(tb, `SELECT action, detail->>'step' AS step FROM audit WHERE run_id = $1 AND action IN ('step','finish') ORDER BY id`, [run.id])).rows;
    expect(audit).toEqual([{ action: 'step', step: 'before' }, { action: 'step', step: 'vacuum' }, { action: 'step', step: 'after' }, { action: 'finish', step: null }]);
    expect((await tableStats('stolen')).dead).toBe(0);
    await eventually(() => resultPosts(tb, 'stolen').length > 0, 10_000, 'result message');
    expect(resultPosts(tb, 'stolen')).toHaveLength(1);
  }, 150_000);
});

describe('two executors handed the same run', () => {
  let tb: TestBot;
  beforeAll(async () => {
    // Web only: the run waits in the queue until the worker below starts.
    tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), start: { role: 'web' } });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it('a second BullMQ job for the same run id: one executes, the other stands down', async () => {
    await tb.wire.slashCommand({ text: 'vacuum demo doubled', userId: REQUESTER, channelId: OPS });
    const run = await runOf(tb, 'doubled');
    // The duplicate a lost-and-rebuilt Redis (or a second deployment) could hand out.
    const q = new Queue('runs', { connection: { host: '127.0.0.1', port: 6379 }, prefix: tb.env.DBOPS_QUEUE_PREFIX! });
    await q.add('run', { runId: run.id }, { jobId: `${run.id}-duplicate` });
    expect(await q.getJobCountByTypes('waiting')).toBe(2);
    await q.close();

    const quiet = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const worker = await startBot(loadConfig({ ...process.env, ...tb.env }), { role: 'worker', logger: quiet, lockDurationMs: 4000, housekeepingEveryMs: 1000, notifierIntervalMs: 50 });
    try {
      const done = await finished(tb, run.id);
      expect(done).toEqual({ state: 'succeeded', attempts: 1 });
    } finally {
      await worker.stop();
    }
    expect((await tableStats('doubled')).vacuums).toBe(1);
    const starts = (await stateQuery(tb, `SELECT count(*)::int AS n FROM audit WHERE run_id = $1 AND action IN ('start','resume')`, [run.id])).rows[0];
    expect(starts.n).toBe(1);
    await eventually(() => resultPosts(tb, 'doubled').length > 0, 10_000, 'result message');
    expect(resultPosts(tb, 'doubled')).toHaveLength(1);
  }, 150_000);
});
