import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockingChains } from '../../src/postgres/locks.js';
import { openTargetSession } from '../../src/postgres/session.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { endAll, pidOf, waitUntilLockWaiting } from './support.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let bot: pg.Client;
const c: Record<'a' | 'b' | 'c' | 'd', pg.Client> = {} as never;
const pid: Record<'a' | 'b' | 'c' | 'd', number> = {} as never;
const pending: Array<Promise<unknown>> = [];

// A holds a row lock (idle in transaction); B waits for the same row (on A's transaction id);
// C wants ACCESS EXCLUSIVE on the table (waits on A and B); D only reads, but queues behind C.
beforeAll(async () => {
  db = await createTestDatabase('lck');
  bot = await openTargetSession(db.url);
  await bot.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)');
  for (const k of ['a', 'b', 'c', 'd'] as const) {
    c[k] = await connect(db.url, `lck-${k}`);
    pid[k] = await pidOf(c[k]);
  }
  await c.a.query('BEGIN; UPDATE t SET id = 1 WHERE id = 1');
  pending.push(c.b.query('UPDATE t SET id = 1 WHERE id = 1').catch(() => undefined));
  await waitUntilLockWaiting([pid.b]);
  pending.push(c.c.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE').catch(() => undefined));
  await waitUntilLockWaiting([pid.c]);
  pending.push(c.d.query('SELECT count(*) FROM t').catch(() => undefined));
  await waitUntilLockWaiting([pid.d]);
});

afterAll(async () => {
  // drop() terminates every session in the database, which also ends the waits
  await db?.drop();
  await Promise.all(pending);
  await endAll([bot, ...Object.values(c)]);
});

describe('blockingChains', () => {
  it('returns the root blocker first with who blocks whom, recursively', async () => {
    const roots = await blockingChains(bot);
    expect(roots.map((r) => r.pid)).toEqual([pid.a]);
    const a = roots[0]!;
    expect(a).toMatchObject({ app: 'lck-a', state: 'idle in transaction', waitingFor: null, blockedBy: [] });
    expect(a.xactSeconds).toBeGreaterThanOrEqual(0);
    expect(a.query).toContain('UPDATE t');

    // A blocks B (row) and C (table); B also blocks C; C blocks D.
    expect(a.blocks.map((n) => n.pid)).toEqual([pid.b, pid.c].sort((x, y) => x - y));
    const b = a.blocks.find((n) => n.pid === pid.b)!;
    const cNode = a.blocks.find((n) => n.pid === pid.c)!;
    expect(b.waitingFor).toMatchObject({ lockType: 'transactionid', mode: 'ShareLock', relation: null });
    expect(b.blocks.map((n) => n.pid)).toEqual([pid.c]);
    expect(cNode.waitingFor).toMatchObject({ lockType: 'relation', mode: 'AccessExclusiveLock', relation: 'public.t' });
    expect(cNode.blockedBy).toEqual([pid.a, pid.b].sort((x, y) => x - y));
    expect(cNode.blocks).toHaveLength(1);
    const d = cNode.blocks[0]!;
    expect(d).toMatchObject({ pid: pid.d, state: 'active', blockedBy: [pid.c], blocks: [] });
    expect(d.waitingFor).toMatchObject({ lockType: 'relation', mode: 'AccessShareLock', relation: 'public.t' });
    expect(d.waitingFor!.waitSeconds).toBeGreaterThanOrEqual(0);
  });

  it('the short statement_timeout is local to its own transaction', async () => {
    await blockingChains(bot);
    const r = await bot.query(`SELECT current_setting('statement_timeout') AS st, pg_current_xact_id_if_assigned() IS NULL AS no_tx`);
    expect(r.rows[0]).toEqual({ st: '15s', no_tx: true });
    const tx = await bot.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = pg_backend_pid() AND xact_start IS NOT NULL AND state = 'idle in transaction'`);
    expect(tx.rows[0].n).toBe(0);
  });

  it('no chains → empty list', async () => {
    const other = await createTestDatabase('lck2');
    const s = await openTargetSession(other.url);
    try {
      expect(await blockingChains(s)).toEqual([]);
    } finally {
      await s.end();
      await other.drop();
    }
  });
});
