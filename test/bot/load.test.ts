// Point 8: the bot's load on a target is bounded by its pool, whatever the request rate; users are
// rate limited and capped in pending approvals. Real Postgres and Redis on 127.0.0.1.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_URL, connect, createTestDatabase } from '../helpers/db.js';
import { ask, INCIDENTS, OPS, OUTSIDER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { eventually } from '../helpers/wait.js';

let target: Awaited<ReturnType<typeof createTestDatabase>>;
let tb: TestBot;
let limited: TestBot;

beforeAll(async () => {
  target = await createTestDatabase('load');
  const setup = await connect(target.url);
  await setup.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 100) g`);
  await setup.end();
  const targets = targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nmaxBotSessions: 3` });
  tb = await startTestBot({ targets });
  limited = await startTestBot({ targets, env: { DBOPS_RATE_LIMIT: '5/60s', DBOPS_MAX_PENDING_APPROVALS: '2' } });
});
afterAll(async () => {
  await tb?.stop();
  await limited?.stop();
  await target?.drop();
});

it('300 concurrent /db status from a non-approver: at most maxBotSessions target sessions at any moment, none failed', async () => {
  const sampler = new pg.Client({ connectionString: ADMIN_URL, application_name: 'load-sampler' });
  await sampler.connect();
  let peak = 0;
  let sampling = true;
  const samples = (async () => {
    while (sampling) {
      const r = await sampler.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dbops'`, [target.name]);
      peak = Math.max(peak, r.rows[0].n as number);
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  try {
    const N = 300;
    const acks = await Promise.all(Array.from({ length: N }, () => tb.wire.slashCommand({ text: 'status demo', userId: OUTSIDER, channelId: OPS })));
    expect(acks.every((a) => a.status === 200)).toBe(true);
    await eventually(async () => {
      const r = await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE runbook = 'status' AND state IN ('succeeded', 'failed')`);
      return r.rows[0].n === N;
    }, 90_000, 'all status runs finished');
    const states = await stateQuery(tb, `SELECT state, error FROM runs WHERE runbook = 'status'`);
    const failed = states.rows.filter((r) => r.state !== 'succeeded');
    expect(failed.filter((r) => /too many connections|connection slots/i.test(String(r.error)))).toEqual([]);
    expect(failed).toEqual([]);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
    // Every request got its report.
    await eventually(() => tb.fake.callsOf('response_url').filter((c) => /Connections \(cluster\)/.test(textOf(c.args as never))).length >= N, 30_000, 'all replies');
  } finally {
    sampling = false;
    await samples.catch(() => undefined);
    await sampler.end();
  }
  // The pool's idle sessions are few and named; an unrelated client still connects.
  const other = await connect(target.url, 'unrelated-app');
  await other.end();
}, 150_000);

it('per-user rate limit: the request over the limit is told to slow down and touches nothing', async () => {
  const user = 'U0FAST';
  for (let i = 0; i < 5; i++) expect(await ask(limited, 'status demo', user)).toMatch(/Connections \(cluster\)/);
  const before = (await stateQuery(limited, `SELECT count(*)::int AS n FROM runs WHERE requester = $1`, [user])).rows[0].n;
  const answer = await ask(limited, 'status demo', user);
  expect(answer).toMatch(/Slow down: 5 requests in the last minute, try again in \d+ s/);
  expect((await stateQuery(limited, `SELECT count(*)::int AS n FROM runs WHERE requester = $1`, [user])).rows[0].n).toBe(before);
  // Another user is not affected.
  expect(await ask(limited, 'status demo', 'U0CALM')).toMatch(/Connections \(cluster\)/);
});

it('at most N pending approval cards per requester; the next request is told which are waiting', async () => {
  const user = 'U0PENDING';
  const cardsBefore = limited.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === INCIDENTS).length;
  const first = await ask(limited, 'vacuum demo accounts --full', user);
  const second = await ask(limited, 'vacuum demo accounts --full', user);
  expect(first).toMatch(/Waiting for approval/);
  expect(second).toMatch(/Waiting for approval/);
  const ids = (await stateQuery(limited, `SELECT id FROM runs WHERE requester = $1 AND state = 'pending_approval' ORDER BY created_at`, [user])).rows.map((r) => r.id as string);
  expect(ids).toHaveLength(2);
  const third = await ask(limited, 'vacuum demo accounts --full', user);
  expect(third).toMatch(/You already have 2 requests waiting for approval/);
  for (const id of ids) expect(third).toContain(id);
  expect((await stateQuery(limited, `SELECT count(*)::int AS n FROM runs WHERE requester = $1`, [user])).rows[0].n).toBe(2);
  const cards = limited.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === INCIDENTS).length - cardsBefore;
  expect(cards).toBe(2);
});
