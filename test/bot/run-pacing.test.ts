import type pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { bloatedTable, connect, createTestDatabase } from '../helpers/db.js';
import { alivePids, connectAs, createTestRole, pidOf } from '../postgres/support.js';
import { clickApprove, eventually, requestApproval, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// Slack pacing (1 post/s per channel) never delays an approved action, and a target runs one
// destructive run at a time, the next one visibly waiting in line.
let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let open: pg.Client[] = [];

const request = (text: string) => requestApproval(tb, text);
const approve = (runId: string, cardTs: string) => clickApprove(tb, runId, cardTs);

beforeAll(async () => {
  target = await createTestDatabase('pacing');
  role = await createTestRole('pace');
  await bloatedTable(target.url, 'first', 2000);
  await bloatedTable(target.url, 'second', 2000);
  // Slack's real pacing: one message per second per channel.
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), start: { notifierIntervalMs: 1000 } });
});
afterEach(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  open = [];
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
  await role?.drop();
});

it('an approved kill acts before the announcement and progress messages have made it through the 1/s lane; the thread keeps its order', async () => {
  const sessions = await Promise.all(Array.from({ length: 5 }, async () => {
    const c = await connectAs(target.url, role.name, 'paced');
    open.push(c);
    return pidOf(c);
  }));
  const { runId, cardTs } = await request('kill demo idle --app paced');
  await new Promise((r) => setTimeout(r, 1100)); // the card's own post no longer holds the lane
  const clicked = Date.now();
  await approve(runId, cardTs);
  await eventually(async () => (await alivePids(sessions)).length === 0, 10_000, 'sessions gone');
  const took = Date.now() - clicked;
  // Card update, announcement and progress message are 3 posts on one 1/s lane: ≥ 2 s if awaited.
  expect(took).toBeLessThan(1500);

  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [runId])).rowCount, 15_000, 'run succeeded');
  const thread = await eventually(() => {
    const posts = tb.fake.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === cardTs).map((c) => textOf(c.args as never));
    return posts.some((t) => /Terminated 5 of 5/.test(t)) && posts;
  }, 15_000, 'result in the thread');
  const at = (re: RegExp) => thread.findIndex((t) => re.test(t));
  expect(at(/starting on demo/)).toBeGreaterThanOrEqual(0); // the announcement
  expect(at(/starting on demo/)).toBeLessThan(at(/Terminated 5 of 5/));
  expect(thread.filter((t) => /Terminated 5 of 5/.test(t))).toHaveLength(1);
}, 40_000);

it('a second destructive run on the same target waits in line, says so, and starts when the first ends', async () => {
  // The first VACUUM FULL is held up by a lock, so it stays running for a while.
  const blocker = await connect(target.url, 'blocker');
  open.push(blocker);
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE first IN SHARE MODE');
  const a = await request('vacuum demo first --full');
  await approve(a.runId, a.cardTs);
  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM run_steps WHERE run_id = $1 AND name = 'vacuum' AND state = 'running'`, [a.runId])).rowCount, 15_000, 'first run in its vacuum step');

  const b = await request('vacuum demo second --full');
  await approve(b.runId, b.cardTs);
  const notice = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === b.cardTs && /queued behind run/.test(textOf(c.args as never))), 15_000, 'queued-behind notice');
  expect(textOf(notice.args as never)).toContain(a.runId);
  expect((await stateQuery(tb, `SELECT state FROM runs WHERE id = $1`, [b.runId])).rows[0].state).toBe('queued');

  await blocker.query('ROLLBACK');
  const rows = await eventually(async () => {
    const r = (await stateQuery(tb, `SELECT id, state, started_at, finished_at FROM runs WHERE id = ANY($1)`, [[a.runId, b.runId]])).rows;
    return r.every((x) => x.state === 'succeeded') && r;
  }, 30_000, 'both runs succeeded');
  const first = rows.find((r) => r.id === a.runId)!;
  const second = rows.find((r) => r.id === b.runId)!;
  expect(second.started_at.getTime()).toBeGreaterThanOrEqual(first.finished_at.getTime());
  // Said once, not on every re-check.
  expect(tb.fake.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === b.cardTs && /queued behind run/.test(textOf(c.args as never)))).toHaveLength(1);
}, 60_000);
