import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionHealth } from '../../src/postgres/activity.js';
import { openTargetSession } from '../../src/postgres/session.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { endAll, pidOf, waitUntilLockWaiting } from './support.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let bot: pg.Client, idle: pg.Client, idleTx: pg.Client, blocker: pg.Client, blocked: pg.Client;
let pids: Record<'bot' | 'idle' | 'idleTx' | 'blocker' | 'blocked', number>;
let blockedQuery: Promise<unknown>;

beforeAll(async () => {
  db = await createTestDatabase('act');
  bot = await openTargetSession(db.url);
  idle = await connect(db.url, 'act-idle');
  idleTx = await connect(db.url, 'act-itx');
  blocker = await connect(db.url, 'act-blocker');
  blocked = await connect(db.url, 'act-blocked');
  await idle.query(`CREATE TABLE t (id int); CREATE TABLE churn (id int) WITH (autovacuum_enabled = false);
                    INSERT INTO churn SELECT generate_series(1, 1000); DELETE FROM churn WHERE id <= 400;
                    SELECT pg_stat_force_next_flush();`);
  pids = {
    bot: await pidOf(bot), idle: await pidOf(idle), idleTx: await pidOf(idleTx), blocker: await pidOf(blocker),
    blocked: await pidOf(blocked),
  };
  await idleTx.query('BEGIN; SELECT 1');
  await blocker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  blockedQuery = blocked.query('SELECT count(*) FROM t').catch(() => undefined);
  await waitUntilLockWaiting([pids.blocked]);
});

afterAll(async () => {
  await blocker?.query('ROLLBACK').catch(() => undefined);
  await blockedQuery;
  await endAll([bot, idle, idleTx, blocker, blocked]);
  await db?.drop();
});

describe('connectionHealth', () => {
  it('reports connection counts for this database, cluster-wide totals and max_connections', async () => {
    const h = await connectionHealth(bot);
    expect(h.database.name).toBe(db.name);
    expect(h.database.sizeBytes).toBeGreaterThan(1_000_000);
    expect(h.database.sizePretty).toMatch(/[kM]B$/);
    const server = await bot.query(`SELECT current_setting('max_connections')::int AS m`);
    expect(h.connections.maxConnections).toBe(server.rows[0].m);
    // our 4 test sessions; the bot's own backend is not counted
    expect(h.connections.databaseTotal).toBe(4);
    expect(h.connections.clusterTotal).toBeGreaterThanOrEqual(4);
    expect(h.connections.percentUsed).toBeCloseTo((h.connections.clusterTotal * 100) / h.connections.maxConnections, 1);
    const states = Object.fromEntries(h.connections.byState.map((s) => [s.key, s.count]));
    expect(states).toEqual({ idle: 1, 'idle in transaction': 2, active: 1 });
    const apps = h.connections.byApplication.map((a) => a.key).sort();
    expect(apps).toEqual(['act-blocked', 'act-blocker', 'act-idle', 'act-itx']);
  });

  it('lists idle-in-transaction sessions with their transaction age', async () => {
    const h = await connectionHealth(bot);
    const itx = h.idleInTransaction.map((s) => s.pid).sort();
    expect(itx).toEqual([pids.idleTx, pids.blocker].sort());
    for (const s of h.idleInTransaction) expect(s.xactSeconds).toBeGreaterThanOrEqual(0);
  });

  it('shows the blocked query with its blocker', async () => {
    const h = await connectionHealth(bot);
    expect(h.blocked).toHaveLength(1);
    const b = h.blocked[0]!;
    expect(b).toMatchObject({ pid: pids.blocked, app: 'act-blocked', waitEventType: 'Lock', query: 'SELECT count(*) FROM t' });
    expect(b.blockers).toEqual([
      expect.objectContaining({ pid: pids.blocker, app: 'act-blocker', state: 'idle in transaction', query: 'BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE', user: 'postgres' }),
    ]);
  });

  it('long-running queries follow the threshold and never include the bot', async () => {
    expect((await connectionHealth(bot)).longRunning).toEqual([]);
    const h = await connectionHealth(bot, { longRunningSeconds: 0 });
    expect(h.longRunning.map((q) => q.pid)).toEqual([pids.blocked]);
    expect(h.longRunning[0]).toMatchObject({ state: 'active', waitEvent: 'relation' });
    expect(JSON.stringify(h)).not.toContain(`"pid":${pids.bot},`);
  });

  it('ranks tables by dead tuples with their vacuum/analyze times', async () => {
    const h = await connectionHealth(bot, { topTables: 1 });
    expect(h.topDeadTupleTables).toHaveLength(1);
    expect(h.topDeadTupleTables[0]).toMatchObject({ schema: 'public', name: 'churn', nDeadTup: 400, nLiveTup: 600, deadPercent: 40, lastVacuum: null });
  });
});
