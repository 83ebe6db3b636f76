import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, bloatedTable, connect, createTestDatabase, urlFor } from '../helpers/db.js';
import { connectAs, createTestRole, pidOf } from '../postgres/support.js';
import { APPROVER, ask as askBot, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, textOf, targetsYaml, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let open: pg.Client[] = [];

/** A session as a plain (non-superuser) role, so the bot's guards let it be signalled. */
async function session(app: string, opts: { superuser?: boolean; url?: string } = {}): Promise<{ c: pg.Client; pid: number }> {
  const url = opts.url ?? target.url;
  const c = opts.superuser ? await connect(url, app) : await connectAs(url, role.name, app);
  open.push(c);
  return { c, pid: await pidOf(c) };
}

const waitingOnLock = (pid: number) =>
  eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [pid])).rowCount, 5000, `pid ${pid} waiting on a lock`);

beforeAll(async () => {
  target = await createTestDatabase('advice');
  role = await createTestRole('adv');
  const c = await connect(target.url);
  await c.query(`CREATE TABLE items (id int PRIMARY KEY, n int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g; GRANT ALL ON items TO "${role.name}"`);
  await c.end();
  await bloatedTable(target.url, 'busy', 2000);
  const g = await connect(target.url);
  await g.query(`GRANT SELECT ON busy TO "${role.name}"`);
  await g.end();
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nprotected: { apps: [pgbouncer], users: [replicator] }` }) });
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

const ask = (text: string) => askBot(tb, text);

describe('/db locks recommends what ends each root blocker', () => {
  it('idle in transaction → kill, with the exact command (cancel would not release its locks)', async () => {
    const holder = await session('demo-app');
    await holder.c.query('BEGIN; UPDATE items SET n = 1 WHERE id = 1');
    const waiter = await session('waiter');
    const pending = waiter.c.query('UPDATE items SET n = 2 WHERE id = 1').catch((e: unknown) => e);
    await waitingOnLock(waiter.pid);
    const text = await ask('locks demo');
    expect(text).toContain(`Root blocker ${holder.pid}`);
    expect(text).toContain(`\`/db kill demo ${holder.pid}\``);
    expect(text).toMatch(/idle in transaction: cancel only stops a running query/);
    expect(text).not.toContain(`/db cancel demo ${holder.pid}`);
    expect(text).not.toContain('<pid>');
    await holder.c.query('ROLLBACK');
    await pending;
  });

  it('an active blocker → cancel', async () => {
    const holder = await session('batch');
    const running = holder.c.query('BEGIN; UPDATE items SET n = 3 WHERE id = 2; SELECT pg_sleep(30)').catch((e: unknown) => e);
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, [holder.pid])).rowCount, 5000, 'holder sleeping');
    const waiter = await session('waiter');
    const pending = waiter.c.query('UPDATE items SET n = 4 WHERE id = 2').catch((e: unknown) => e);
    await waitingOnLock(waiter.pid);
    const text = await ask('locks demo');
    expect(text).toContain(`\`/db cancel demo ${holder.pid}\``);
    expect(text).not.toContain(`/db kill demo ${holder.pid}\``);
    await adminQuery('SELECT pg_cancel_backend($1)', [holder.pid]);
    await running;
    await holder.c.query('ROLLBACK');
    await pending;
  });
});

describe('/db cancel says exactly why it refuses a pid', () => {
  it('idle in transaction: names the state and gives the kill command', async () => {
    const tx = await session('demo-app');
    await tx.c.query('BEGIN; SELECT 1');
    const text = await ask(`cancel demo ${tx.pid}`);
    expect(text).toContain(`pid ${tx.pid} is idle in transaction; cancel only stops a running query — \`/db kill demo ${tx.pid}\``);
    expect(text).not.toMatch(/not found or protected/);
  });

  it('gone, protected app, superuser, the bot itself, another database, a non-client backend', async () => {
    const ended = await session('short-lived');
    await ended.c.end();
    await eventually(async () => !(await adminQuery('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [ended.pid])).rowCount, 5000, 'session gone');
    const bouncer = await session('pgbouncer');
    const su = await session('psql-admin', { superuser: true });
    const su2 = su.c.query('SELECT pg_sleep(20)').catch(() => undefined);
    const botLike = await session('dbops');
    const elsewhere = await session('other-db', { superuser: true, url: urlFor('postgres') });
    const checkpointer = (await adminQuery(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`)).rows[0].pid as number;
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [su.pid])).rowCount, 5000, 'superuser query running');

    expect(await ask(`cancel demo ${ended.pid}`)).toContain(`pid ${ended.pid} is not running on this server`);
    expect(await ask(`cancel demo ${bouncer.pid}`)).toContain(`pid ${bouncer.pid} belongs to application pgbouncer, which is protected on demo`);
    expect(await ask(`cancel demo ${su.pid}`)).toContain(`pid ${su.pid} is a superuser session (postgres); add --include-superusers: \`/db cancel demo ${su.pid} --include-superusers\``);
    expect(await ask(`cancel demo ${botLike.pid}`)).toContain(`pid ${botLike.pid} is dbops itself`);
    expect(await ask(`cancel demo ${elsewhere.pid}`)).toContain(`pid ${elsewhere.pid} is connected to database postgres, not ${target.name}`);
    expect(await ask(`kill demo ${elsewhere.pid}`)).toContain(`\`/db kill demo ${elsewhere.pid} --database postgres\``);
    expect(await ask(`cancel demo ${checkpointer}`)).toContain(`pid ${checkpointer} is not a client session (checkpointer)`);
    await adminQuery('SELECT pg_cancel_backend($1)', [su.pid]);
    await su2;
  });
});

describe('VACUUM FULL blocked by a lock', () => {
  it('the card shows the lock_timeout; the failure names the holder, its app and mode, and the command that ends it', async () => {
    const holder = await session('report-job');
    await holder.c.query('BEGIN; SELECT count(*) FROM busy');
    const before = tb.fake.callsOf('chat.postMessage').length;
    await tb.wire.slashCommand({ text: 'vacuum demo busy --full --lock-timeout 1s', userId: REQUESTER, channelId: OPS });
    const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
    const cardText = textOf(card.args as never);
    expect(cardText).toMatch(/\*Lock timeout\*\n1s/);
    expect(cardText).toContain('lock_timeout 1s');
    const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
    const started = Date.now();
    await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
    const failure = await tb.fake.waitForCall('chat.postMessage', (c) => /^Failed:/.test(String(c.args.text)) && JSON.stringify(c.args).includes(runId), 30_000);
    // The test target's lock_timeout is 1 s, not the 10 s default.
    expect(Date.now() - started).toBeLessThan(8000);
    const text = textOf(failure.args as never);
    expect(text).toContain('Could not lock public.busy within lock_timeout (1s)');
    expect(text).toMatch(new RegExp(`pid ${holder.pid} \\(report-job, user ${role.name}, idle in transaction for \\d+s\\) holds AccessShareLock — \`/db kill demo ${holder.pid}\``));
    await holder.c.query('ROLLBACK');
  }, 40_000);

  it('refuses a lock timeout over 5 minutes', async () => {
    expect(await ask('vacuum demo busy --lock-timeout 10m')).toMatch(/lock timeout is at most 5m/);
  });
});
