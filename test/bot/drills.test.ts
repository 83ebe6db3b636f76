// Backup drills on the wire: scheduled verify runs as the bot, results in the target's channel and the
// audit log, listing, removal, and schedules that survive a Redis wipe (Postgres is the source of truth).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerFor, snapshotId } from '../../src/providers/index.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { ask, eventually, INCIDENTS, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dir: string;
let drillsQueue: Queue;
const saved = process.env.DBOPS_ALLOW_SHORT_DRILLS;

const topLevelIn = (channel: string, re: RegExp) => tb.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === channel && !c.args.thread_ts && re.test(textOf(c.args as never)));
const drillRuns = async (target: string) => (await stateQuery(tb, `SELECT id, state, requester, channel FROM runs WHERE runbook = 'backup verify' AND target = $1 ORDER BY created_at`, [target])).rows;

beforeAll(async () => {
  process.env.DBOPS_ALLOW_SHORT_DRILLS = 'true';
  dir = mkdtempSync(join(tmpdir(), 'dbops-drills-'));
  db = await createTestDatabase('drills');
  const c = await connect(db.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 500)`);
  await c.end();
  for (const target of ['demo', 'prod']) {
    await providerFor({ name: target, engine: 'self-hosted', url: db.url, backups: { store: dir } }).startSnapshot(snapshotId(target, 'seed', new Date()));
  }
  const policy = 'policy:\n  environments:\n    production: { change: approval, announce: true }\n    staging: { change: auto, announce: false }';
  tb = await startTestBot({
    targets: targetsYaml(
      {
        demo: `environment: staging\nengine: self-hosted\nurl: ${db.url}\nbackups: { store: ${dir} }`,
        prod: `environment: production\nengine: self-hosted\nurl: ${db.url}\nbackups: { store: ${dir} }`,
        rds: `environment: staging\nengine: aws-rds\nurl: ${db.url}\naws: { region: us-east-1, instance: orders }`,
      },
      policy,
    ),
  });
  const u = new URL(tb.env.REDIS_URL!);
  drillsQueue = new Queue('drills', { connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: 1 }, prefix: tb.env.DBOPS_QUEUE_PREFIX });
});
afterAll(async () => {
  await drillsQueue?.close();
  await tb?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (saved === undefined) delete process.env.DBOPS_ALLOW_SHORT_DRILLS;
  else process.env.DBOPS_ALLOW_SHORT_DRILLS = saved;
});

describe('backup drills', () => {
  it('a drill runs backup verify as dbops and posts its result in the target channel and the audit log', async () => {
    const reply = await ask(tb, 'backup drill demo --every 3s');
    expect(reply).toMatch(/Backup drill for `demo`\* every 3s, next/);
    expect(reply).toContain('runs without approval');
    const passed = await eventually(() => topLevelIn(INCIDENTS, /Backup drill of `demo` passed/)[0], 30_000, 'drill result in the incident channel');
    expect(textOf(passed.args as never)).toMatch(/Backup dbops-demo-\d{12}-seed verified: 1 table/);
    expect(textOf(passed.args as never)).toContain('public.orders  500 → 500');
    const [run] = await drillRuns('demo');
    expect(run).toMatchObject({ requester: 'dbops', channel: INCIDENTS });
    const audit = (await stateQuery(tb, `SELECT actor, action, outcome, run_id FROM audit WHERE target = 'demo' AND action LIKE 'drill%' ORDER BY id`)).rows;
    expect(audit[0]).toMatchObject({ actor: 'U0REQ', action: 'drill_schedule', outcome: 'scheduled' });
    expect(audit).toContainEqual({ actor: 'dbops', action: 'drill', outcome: 'submitted', run_id: run.id });
    expect(audit).toContainEqual({ actor: 'dbops', action: 'drill_result', outcome: 'succeeded', run_id: run.id });
  }, 40_000);

  it('where policy needs approval, each drill posts an approval card; the next firing waits for it', async () => {
    const reply = await ask(tb, 'backup drill prod --every 2s');
    expect(reply).toContain('needs approval for changes, so each drill posts an approval card');
    const card = await eventually(() => topLevelIn(INCIDENTS, /Verify backup dbops-prod-/)[0], 20_000, 'approval card');
    expect(textOf(card.args as never)).toMatch(/Approve/);
    expect((await drillRuns('prod'))[0].state).toBe('pending_approval');
    await eventually(() => topLevelIn(INCIDENTS, /Backup drill of `prod` skipped.*still pending approval/)[0], 15_000, 'next firing skipped');
    expect(await drillRuns('prod')).toHaveLength(1);
    expect(await ask(tb, 'backup drill prod --off')).toContain('Backup drill for `prod` removed');
  }, 40_000);

  it('/db backup drills lists target, interval, next run and last result', async () => {
    const text = await ask(tb, 'backup drills');
    expect(text).toContain('Backup drills');
    expect(text).toMatch(/`demo` — every 3s · next <!date\^\d+/);
    expect(text).toMatch(/last: :white_check_mark: succeeded .*\(`r_[0-9a-f]+`\) — Backup dbops-demo-/);
    expect(text).not.toContain('`prod`');
  });

  it('after a Redis wipe the schedule comes back from Postgres and keeps firing', async () => {
    expect(await drillsQueue.getJobScheduler('drill:demo')).toBeTruthy();
    const redis = new Redis(tb.env.REDIS_URL!);
    const keys = await redis.keys(`${tb.env.DBOPS_QUEUE_PREFIX}:*`);
    await redis.del(...keys);
    await redis.quit();
    expect(await drillsQueue.getJobScheduler('drill:demo')).toBeFalsy();
    const before = (await drillRuns('demo')).length;
    const s = await eventually(() => drillsQueue.getJobScheduler('drill:demo'), 10_000, 'scheduler re-created');
    expect(s!.every).toBe(3000);
    await eventually(async () => (await drillRuns('demo')).length > before, 20_000, 'a drill after the wipe');
  }, 40_000);

  it('--off removes the drill: gone from the list and from Redis, and no more runs', async () => {
    expect(await ask(tb, 'backup drill demo --off')).toContain('Backup drill for `demo` removed');
    await eventually(async () => !(await drillsQueue.getJobScheduler('drill:demo')), 10_000, 'scheduler removed');
    expect(await ask(tb, 'backup drills')).toContain('No backup drills scheduled');
    await eventually(async () => (await drillRuns('demo')).every((r) => ['succeeded', 'failed'].includes(r.state)), 20_000, 'runs settled');
    const n = (await drillRuns('demo')).length;
    await new Promise((r) => setTimeout(r, 4000));
    expect(await drillRuns('demo')).toHaveLength(n);
    expect(await ask(tb, 'backup drill demo --off')).toContain('`demo` has no backup drill');
  }, 40_000);

  it('refuses bad schedules before storing anything', async () => {
    // A cloud target can be drilled now (backup verify restores to a scratch instance): scheduled, then removed.
    expect(await ask(tb, 'backup drill rds --every 7d')).toContain('*Backup drill for `rds`* every 7d');
    expect(await ask(tb, 'backup drill rds --off')).not.toContain('has no backup drill');
    expect(await ask(tb, 'backup drill demo')).toContain('takes `--every 7d` to schedule a drill or `--off`');
    expect(await ask(tb, 'backup drill demo --every 7d --off')).toContain('one of the two');
    expect(await ask(tb, 'backup drill demo --every soon')).toMatch(/not a duration/);
    expect(await ask(tb, 'backup drills demo')).toContain('takes no arguments');
    process.env.DBOPS_ALLOW_SHORT_DRILLS = 'false';
    try {
      expect(await ask(tb, 'backup drill demo --every 30m')).toContain('`--every` must be at least 1h');
    } finally {
      process.env.DBOPS_ALLOW_SHORT_DRILLS = 'true';
    }
    expect((await stateQuery(tb, 'SELECT count(*)::int AS n FROM backup_drills')).rows[0].n).toBe(0);
  });
});
