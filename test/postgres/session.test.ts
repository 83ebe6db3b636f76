import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTargetSession, withTargetSession } from '../../src/postgres/session.js';
import { createTestDatabase } from '../helpers/db.js';

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
