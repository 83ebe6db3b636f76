import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTargetSession } from '../../src/postgres/session.js';
import { listSessions, rootBlockers, type SessionInfo } from '../../src/postgres/sessions.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { connectAs, createTestRole, endAll, pidOf, waitUntilLockWaiting } from './support.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let bot: pg.Client;
const c: Record<'otherBot' | 'web' | 'worker' | 'superWeb' | 'guarded' | 'waiter', pg.Client> = {} as never;
const pid: Record<keyof typeof c | 'bot', number> = {} as never;
let waiting: Promise<unknown>;

beforeAll(async () => {
  db = await createTestDatabase('ses');
  role = await createTestRole('ses');
  await adminQuery(`GRANT ALL ON DATABASE "${db.name}" TO "${role.name}"`);
  bot = await openTargetSession(db.url);
  await bot.query(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); GRANT ALL ON t TO "${role.name}"`);
  c.otherBot = await connectAs(db.url, role.name, 'dbops');
  c.web = await connectAs(db.url, role.name, 'web');
  c.worker = await connectAs(db.url, role.name, 'worker');
  c.superWeb = await connect(db.url, 'web');
  c.guarded = await connectAs(db.url, role.name, 'protected-app');
  c.waiter = await connectAs(db.url, role.name, 'waiter');
  pid.bot = await pidOf(bot);
  for (const k of Object.keys(c) as Array<keyof typeof c>) pid[k] = await pidOf(c[k]);
  await c.worker.query('BEGIN; UPDATE t SET id = id WHERE id = 1');
  waiting = c.waiter.query('UPDATE t SET id = id WHERE id = 1').catch(() => undefined);
  await waitUntilLockWaiting([pid.waiter]);
});

afterAll(async () => {
  await c.worker?.query('ROLLBACK').catch(() => undefined);
  await waiting;
  await endAll([bot, ...Object.values(c)]);
  await db?.drop();
  await role?.drop();
});

const pids = (s: SessionInfo[]) => s.map((x) => x.pid).sort((a, b) => a - b);
const sorted = (...xs: number[]) => [...xs].sort((a, b) => a - b);

describe('listSessions', () => {
  it('by default: client backends of this database, without the caller, dbops sessions or superusers', async () => {
    const { sessions, counts } = await listSessions(bot);
    expect(pids(sessions)).toEqual(sorted(pid.web, pid.worker, pid.guarded, pid.waiter));
    const web = sessions.find((s) => s.pid === pid.web)!;
    expect(web).toMatchObject({ user: role.name, app: 'web', client: '127.0.0.1', database: db.name, state: 'idle', isSuperuser: false });
    expect(web.backendStart).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // backend_start round-trips exactly (microseconds), which the kill guard depends on
    const same = await adminQuery('SELECT backend_start = $2::timestamptz AS eq FROM pg_stat_activity WHERE pid = $1', [web.pid, web.backendStart]);
    expect(same.rows[0].eq).toBe(true);
    expect(web.durationSeconds).toBeGreaterThanOrEqual(0);

    expect(counts.byState).toEqual([
      { key: 'idle', count: 2 },
      { key: 'active', count: 1 },
      { key: 'idle in transaction', count: 1 },
    ]);
    expect(counts.byUser).toEqual([{ key: role.name, count: 4 }]);
    expect(counts.byClient).toEqual([{ key: '127.0.0.1', count: 4 }]);
    expect(counts.byApp.map((a) => a.key).sort()).toEqual(['protected-app', 'waiter', 'web', 'worker']);
  });

  it('superusers only with includeSuperusers; the bot\'s other sessions only with includeBot; never the caller', async () => {
    const withSuper = await listSessions(bot, { includeSuperusers: true });
    expect(pids(withSuper.sessions)).toContain(pid.superWeb);
    expect(withSuper.sessions.find((s) => s.pid === pid.superWeb)?.isSuperuser).toBe(true);
    expect(pids(withSuper.sessions)).not.toContain(pid.bot);

    const withBot = await listSessions(bot, { includeBot: true, includeSuperusers: true });
    expect(pids(withBot.sessions)).toContain(pid.otherBot);
    expect(pids(withBot.sessions)).not.toContain(pid.bot);
  });

  it('filters by state, app, user and database', async () => {
    expect(pids((await listSessions(bot, { state: 'idle' })).sessions)).toEqual(sorted(pid.web, pid.guarded));
    expect(pids((await listSessions(bot, { state: 'idle in transaction' })).sessions)).toEqual([pid.worker]);
    expect(pids((await listSessions(bot, { state: 'active' })).sessions)).toEqual([pid.waiter]);
    expect(pids((await listSessions(bot, { app: 'web' })).sessions)).toEqual([pid.web]);
    expect(pids((await listSessions(bot, { app: 'web', includeSuperusers: true })).sessions)).toEqual(sorted(pid.web, pid.superWeb));
    expect(pids((await listSessions(bot, { user: 'postgres', includeSuperusers: true })).sessions)).toEqual([pid.superWeb]);
    expect((await listSessions(bot, { database: 'postgres_no_such_db' })).sessions).toEqual([]);
    expect(pids((await listSessions(bot, { database: db.name })).sessions)).toHaveLength(4);
    const all = await listSessions(bot, { allDatabases: true, user: role.name });
    expect(pids(all.sessions)).toEqual(sorted(pid.web, pid.worker, pid.guarded, pid.waiter));
  });

  it('protected apps and users are never listed', async () => {
    expect(pids((await listSessions(bot, { protectedApps: ['protected-app', 'worker'] })).sessions)).toEqual(sorted(pid.web, pid.waiter));
    expect((await listSessions(bot, { protectedUsers: [role.name] })).sessions).toEqual([]);
  });

  it('olderThanSeconds uses the state-relevant clock', async () => {
    await new Promise((r) => setTimeout(r, 1200));
    await c.guarded.query('SELECT 1'); // resets its idle clock
    const old = await listSessions(bot, { olderThanSeconds: 1, state: 'idle' });
    expect(pids(old.sessions)).toEqual([pid.web]);
    expect(old.sessions[0]!.durationSeconds).toBeGreaterThanOrEqual(1);
    expect((await listSessions(bot, { olderThanSeconds: 3600 })).sessions).toEqual([]);
  });
});

describe('rootBlockers', () => {
  it('returns the session holding the lock, with the sessions it blocks', async () => {
    const roots = await rootBlockers(bot);
    expect(roots).toHaveLength(1);
    expect(roots[0]).toMatchObject({ pid: pid.worker, app: 'worker', state: 'idle in transaction', blockedPids: [pid.waiter] });
  });

  it('applies the same protections as listSessions', async () => {
    expect(await rootBlockers(bot, { protectedApps: ['worker'] })).toEqual([]);
  });
});
