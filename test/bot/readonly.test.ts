// /db readonly on real PostgreSQL: a write from a NEW session fails (SQLSTATE 25006) after `on` and
// succeeds after `off`; --terminate-writers ends only sessions with an open write transaction.
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setDatabaseReadOnly } from '../../src/postgres/readonly.js';
import { ask, eventually, startTestBot, targetsYaml, type TestBot } from '../helpers/bot.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { approve, factOf, finished, queued, requestCard } from '../helpers/emergency-runs.js';
import { alivePids, connectAs, createTestRole, pidOf } from '../postgres/support.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let open: pg.Client[] = [];

async function session(app: string): Promise<{ c: pg.Client; pid: number }> {
  const c = await connectAs(target.url, role.name, app);
  open.push(c);
  return { c, pid: await pidOf(c) };
}

/** An INSERT from a session opened now: the database default applies only to new sessions. */
async function insertFromNewSession(): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const { c } = await session('app');
  try {
    await c.query('INSERT INTO t VALUES (1)');
    return { ok: true };
  } catch (err) {
    const e = err as { code: string; message: string };
    return { ok: false, code: e.code, message: e.message };
  }
}

beforeAll(async () => {
  target = await createTestDatabase('ro');
  role = await createTestRole('ro');
  await adminQuery(`GRANT CONNECT ON DATABASE "${target.name}" TO "${role.name}"`);
  const c = await connect(target.url);
  await c.query(`CREATE TABLE t (id int); GRANT SELECT, INSERT ON t TO "${role.name}"`);
  await c.end();
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
}, 60_000);
afterEach(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  open = [];
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
  await role?.drop();
});

describe('/db readonly', () => {
  it('on (destructive, approved): a new session cannot write (25006) unless it overrides the default; off (a change): it can write again', async () => {
    expect(await insertFromNewSession()).toEqual({ ok: true });
    const card = await requestCard(tb, 'readonly demo on --reason "disk almost full"');
    expect(card.text).toContain(target.name);
    expect(card.text).toContain('a session can still run `SET default_transaction_read_only = off`');
    await approve(tb, card);
    const on = await finished(tb, card.runId);
    expect(on.state).toBe('succeeded');
    expect(factOf(on, 'default_transaction_read_only')).toBe('not set → on');
    expect(factOf(on, 'Caveat')).toContain('sessions already connected keep their setting until they reconnect');

    expect(await insertFromNewSession()).toEqual({ ok: false, code: '25006', message: 'cannot execute INSERT in a read-only transaction' });
    // The caveat is true: a session that overrides the default writes anyway.
    const { c } = await session('override');
    await c.query('SET default_transaction_read_only = off');
    await c.query('INSERT INTO t VALUES (2)');

    const off = await queued(tb, 'readonly demo off');
    const done = await finished(tb, off);
    expect(done.state).toBe('succeeded');
    expect(factOf(done, 'default_transaction_read_only')).toBe('on → off');
    expect(await insertFromNewSession()).toEqual({ ok: true });
  }, 40_000);

  it('--terminate-writers: the plan lists the session with an open write transaction (pid + backend_start); it is ended, a read-only idle session is left alone', async () => {
    const writer = await session('writer-job');
    await writer.c.query('BEGIN');
    await writer.c.query('INSERT INTO t VALUES (3)');
    const reader = await session('reader-job');
    await reader.c.query('BEGIN');
    await reader.c.query('SELECT count(*) FROM t');
    const idle = await session('idle-job');

    const card = await requestCard(tb, 'readonly demo on --terminate-writers');
    expect(card.text).toMatch(/\*Writer sessions to end\*\n1/);
    expect(card.text).toContain(String(writer.pid));
    expect(card.text).not.toContain(`${reader.pid} `);
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('succeeded');
    expect(factOf(run, 'Writer sessions ended')).toBe('1 of 1 (0 already gone, 0 refused)');
    await eventually(async () => !(await alivePids([writer.pid])).length, 5000, 'writer gone');
    expect(await alivePids([reader.pid, idle.pid])).toEqual([reader.pid, idle.pid].sort((a, b) => a - b));
    // The writer's transaction rolled back; the reader still reads.
    expect((await reader.c.query('SELECT count(*)::int AS n FROM t WHERE id = 3')).rows[0].n).toBe(0);
    expect((await insertFromNewSession()).ok).toBe(false);
    expect((await finished(tb, await queued(tb, 'readonly demo off'))).state).toBe('succeeded');
  }, 40_000);

  it('refuses what it cannot mean: --terminate-writers with off, a state other than on/off', async () => {
    expect(await ask(tb, 'readonly demo off --terminate-writers')).toContain('`--terminate-writers` goes with `on` only');
    expect(await ask(tb, 'readonly demo maybe')).toContain('`maybe` is not on or off');
  });

  it('off works from a session that itself started read-only (BEGIN READ WRITE around the ALTER)', async () => {
    const admin = await connect(target.url);
    await setDatabaseReadOnly(admin, target.name, true);
    await admin.end();
    const fresh = await connect(target.url);
    try {
      expect((await fresh.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('on');
      await setDatabaseReadOnly(fresh, target.name, false);
    } finally {
      await fresh.end();
    }
    expect(await insertFromNewSession()).toEqual({ ok: true });
  });
});
