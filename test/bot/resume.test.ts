import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery, connect, createTestDatabase, bloatedTable } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
const children: ChildProcess[] = [];

/** A worker in its own OS process (`npm start -- --role worker`, built JS), so it can be SIGKILLed. */
function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ['dist/src/main.js', '--role', 'worker'], {
    env: { ...process.env, ...tb.env, DBOPS_LOCK_DURATION_MS: '3000', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  target = await createTestDatabase('resume');
  await bloatedTable(target.url, 'events', 4_000, 200);
  // Web only in this process: runs are executed by the spawned worker processes.
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), start: { role: 'web' } });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await tb?.stop();
  await target?.drop();
});

it('a worker SIGKILLed mid-step: the run is picked up again and completes exactly once', async () => {
  // A session holding the table keeps the bot's VACUUM waiting inside the step, however fast the
  // machine is: the worker is killed while its VACUUM statement is on the target.
  const holder = await connect(target.url, 'resume-test-holder');
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE events IN SHARE MODE');
  const first = spawnWorker();
  await tb.wire.slashCommand({ text: 'vacuum demo events --lock-timeout 2m', userId: REQUESTER, channelId: OPS });
  const run = await eventually(async () => (await stateQuery(tb, `SELECT run_id FROM run_steps WHERE name = 'vacuum' AND state = 'running'`)).rows[0], 30_000, 'vacuum step running');
  await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dbops' AND wait_event_type = 'Lock' AND query ILIKE 'VACUUM%'`, [target.name])).rowCount, 15_000, 'VACUUM waiting on the target');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const mid = (await stateQuery(tb, `SELECT state, next_step FROM runs WHERE id = $1`, [run.run_id])).rows[0];
  expect(mid).toEqual({ state: 'running', next_step: 1 });

  spawnWorker();
  // The next worker takes the run over (after the lease) and starts the step again; then let it run.
  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM run_steps WHERE run_id = $1 AND name = 'vacuum' AND attempts = 2`, [run.run_id])).rowCount, 60_000, 'second attempt of the vacuum step');
  await holder.query('ROLLBACK');
  await holder.end();
  const done = await eventually(async () => (await stateQuery(tb, `SELECT state, attempts FROM runs WHERE id = $1 AND state IN ('succeeded','failed')`, [run.run_id])).rows[0], 90_000, 'run finished');
  expect(done.state).toBe('succeeded');
  expect(done.attempts).toBe(2);

  const steps = (await stateQuery(tb, `SELECT name, state, attempts FROM run_steps WHERE run_id = $1 ORDER BY idx`, [run.run_id])).rows;
  expect(steps).toEqual([
    { name: 'before', state: 'done', attempts: 1 },
    { name: 'vacuum', state: 'done', attempts: 2 },
    { name: 'after', state: 'done', attempts: 1 },
  ]);
  const audit = (await stateQuery(tb, `SELECT action, outcome, detail->>'step' AS step FROM audit WHERE run_id = $1 ORDER BY id`, [run.run_id])).rows;
  expect(audit.filter((a) => a.action === 'finish')).toEqual([{ action: 'finish', outcome: 'succeeded', step: null }]);
  expect(audit.filter((a) => a.action === 'resume')).toHaveLength(1);
  expect(audit.filter((a) => a.action === 'step').map((a) => a.step)).toEqual(['before', 'vacuum', 'after']);
  const t = (await (async () => {
    const c = await connect(target.url);
    try {
      return (await c.query(`SELECT last_vacuum, n_dead_tup::int AS d FROM pg_stat_user_tables WHERE relname = 'events'`)).rows[0];
    } finally {
      await c.end();
    }
  })());
  expect(t.last_vacuum).not.toBeNull();
  expect(t.d).toBe(0);
}, 150_000);
