import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusyError, holdTargetPools, TargetPool } from '../../src/postgres/pool.js';
import { openSessionOn, openTargetSession, sessionFor, withTargetSession } from '../../src/postgres/session.js';
import { adminQuery, createTestDatabase } from '../helpers/db.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase('sess');
});
afterAll(async () => {
  await db?.drop();
});

it('every target session is named dbops and bounded by statement_timeout and lock_timeout from its first query', async () => {
  const c = await openTargetSession(db.url, { statementTimeoutMs: 1234, lockTimeoutMs: 567 });
  try {
    const r = await c.query(`SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`);
    expect(r.rows[0]).toEqual({ app: 'dbops', st: '1234ms', lt: '567ms' });
    await expect(c.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
  } finally {
    await c.end();
  }
  // Defaults when not given.
  const d = await withTargetSession(db.url, async (s) => (await s.query(`SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`)).rows[0]);
  expect(d).toEqual({ st: '15s', lt: '5s' });
});

it('connection failures are typed, quick, and never show the URL or password', async () => {
  const started = Date.now();
  const err = await openTargetSession('postgres://postgres:very-secret-pw@127.0.0.1:1/x', { connectTimeoutMs: 2000 }, 'target demo').catch((e) => e);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(err.code).toBe('target_unreachable');
  expect(err.userMessage).toMatch(/Could not connect to target demo \(ECONNREFUSED\)/);
  expect(`${err.userMessage} ${err.message}`).not.toContain('very-secret-pw');
  const missing = await openTargetSession(db.url.replace(db.name, `${db.name}_nope`), {}, 'target demo').catch((e) => e);
  expect(missing.userMessage).toMatch(/Could not connect to target demo \(3D000\)/);
});

describe('pooled target sessions (sessionFor / openSessionOn)', () => {
  const target = () => ({ url: db.url, name: 'demo', maxBotSessions: 2 });
  let release: () => Promise<void>;
  beforeAll(() => {
    release = holdTargetPools();
  });
  afterAll(async () => {
    await release();
  });
  const botSessions = async () => Number((await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dbops'`, [db.name])).rows[0].n);

  it('keep the bounds per use and forget what a user changed', async () => {
    const settings = `SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('work_mem') AS wm`;
    const tight = await sessionFor(target(), { statementTimeoutMs: 1234, lockTimeoutMs: 567 })(async (c) => {
      const r = (await c.query(settings)).rows[0];
      await c.query(`SET work_mem = '7MB'`);
      await expect(c.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
      return r;
    });
    expect(tight).toMatchObject({ app: 'dbops', st: '1234ms', lt: '567ms' });
    // Twice, so at least one checkout reuses a session the first one changed.
    for (let i = 0; i < 2; i++) {
      expect((await sessionFor(target())(async (c) => (await c.query(settings)).rows[0]))).toMatchObject({ app: 'dbops', st: '15s', lt: '5s', wm: '4MB' });
    }
    const long = await openSessionOn(target(), { lockTimeoutMs: 10_000 });
    expect((await long.query(settings)).rows[0]).toMatchObject({ st: '15s', lt: '10s' });
    await long.query('BEGIN');
    await long.end();
    // A session given back inside a transaction is closed, not reused.
    expect(await sessionFor(target())(async (c) => (await c.query(`SELECT now() = statement_timestamp() AS fresh`)).rows[0].fresh)).toBe(true);
  });

  it('never exceed maxBotSessions; reads wait and give up with "busy"; steps go first', async () => {
    const order: string[] = [];
    const a = await openSessionOn(target());
    const b = await openSessionOn(target());
    expect(await botSessions()).toBeLessThanOrEqual(2);
    const read = sessionFor(target(), { use: 'read' })(async () => order.push('read'));
    const step = openSessionOn(target()).then(async (c) => {
      order.push('step');
      await c.end();
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual([]);
    await a.end();
    await step;
    await read;
    expect(order).toEqual(['step', 'read']);
    await b.end();
    const many = await Promise.all(Array.from({ length: 30 }, () => sessionFor(target(), { use: 'read' })(async (c) => (await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', ['dbops'])).rows[0].n as number)));
    expect(Math.max(...many)).toBeLessThanOrEqual(2);
  });

  it('a read that cannot get a session in time says the target is busy', async () => {
    const p = new TargetPool(db.url, 2, 'dbops', { readWaitMs: 200 });
    try {
      await p.acquire('step');
      await p.acquire('step');
      await expect(p.acquire('read')).rejects.toBeInstanceOf(BusyError);
    } finally {
      await p.end();
    }
  });
});
