import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbopsError } from '../../src/errors.js';
import {
  backendPid, runAnalyze, runVacuum, tableStats, vacuumProgress, type VacuumProgress,
} from '../../src/postgres/maintenance.js';
import { resolveRelation } from '../../src/postgres/relation.js';
import { openTargetSession } from '../../src/postgres/session.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { connectAs, createTestRole, endAll, waitFor } from './support.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let bot: pg.Client; // runs the commands
let poller: pg.Client; // a second bot session: the first is busy while VACUUM runs
let writer: pg.Client; // makes dead tuples

beforeAll(async () => {
  db = await createTestDatabase('mnt');
  bot = await openTargetSession(db.url);
  poller = await openTargetSession(db.url);
  writer = await connect(db.url, 'mnt-writer');
});

afterAll(async () => {
  await endAll([bot, poller, writer]);
  await db?.drop();
});

/** Creates a table with autovacuum off and `dead` dead tuples, flushed to the shared stats. */
async function churnTable(name: string, rows: number, dead: number): Promise<void> {
  await writer.query(`CREATE TABLE ${name} (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)`);
  await writer.query(`INSERT INTO ${name} SELECT g, repeat('x', 100) FROM generate_series(1, ${rows}) g`);
  await writer.query(`DELETE FROM ${name} WHERE id <= ${dead}`);
  // PG15: a backend's table counters reach shared stats at transaction end at most once a second;
  // this makes the next transaction end flush them now.
  await writer.query('SELECT pg_stat_force_next_flush()');
}

async function pollDuring(pid: number, work: Promise<unknown>): Promise<VacuumProgress[]> {
  const seen: VacuumProgress[] = [];
  let done = false;
  const finished = work.finally(() => { done = true; });
  while (!done) {
    const p = await vacuumProgress(poller, pid);
    if (p) seen.push(p);
    await new Promise((r) => setTimeout(r, 20));
  }
  await finished;
  return seen;
}

describe('runVacuum / tableStats', () => {
  it('vacuums a table with autovacuum disabled: last_vacuum set, dead tuples gone, timeout restored', async () => {
    await churnTable('churn', 5000, 3000);
    const rel = await resolveRelation(bot, 'churn');
    const before = await waitFor(async () => {
      const s = await tableStats(bot, rel.oid);
      return s.nDeadTup === 3000 && s;
    }, 5000, 'dead tuples in pg_stat_user_tables');
    expect(before).toMatchObject({ schema: 'public', name: 'churn', nLiveTup: 2000, lastVacuum: null, vacuumCount: 0 });

    const res = await runVacuum(bot, rel);
    expect(res).toMatchObject({ command: 'VACUUM "public"."churn"', notices: [] });
    expect(res.durationMs).toBeGreaterThanOrEqual(0);

    const after = await tableStats(bot, rel.oid);
    expect(after.nDeadTup).toBe(0);
    expect(after.vacuumCount).toBe(1);
    expect(after.lastVacuum).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(Date.parse(after.lastVacuum!)).toBeGreaterThan(Date.now() - 60_000);
    expect(after.relpages).toBeGreaterThan(0);
    expect(after.sizeBytes).toBeGreaterThan(0);
    expect((await bot.query(`SELECT current_setting('statement_timeout') AS v`)).rows[0].v).toBe('15s');
  });

  it('VACUUM (ANALYZE) sets last_analyze; VACUUM FULL shrinks the table; ANALYZE of the whole database runs', async () => {
    await churnTable('shrink', 20000, 18000);
    const rel = await resolveRelation(bot, 'shrink');
    expect((await runVacuum(bot, rel, { analyze: true })).command).toBe('VACUUM (ANALYZE) "public"."shrink"');
    const analyzed = await tableStats(bot, rel.oid);
    expect(analyzed.lastAnalyze).not.toBeNull();
    expect(analyzed.nLiveTup).toBe(2000);

    const full = await runVacuum(bot, rel, { full: true });
    expect(full.command).toBe('VACUUM (FULL) "public"."shrink"');
    expect((await tableStats(bot, rel.oid)).sizeBytes).toBeLessThan(analyzed.sizeBytes / 3);

    expect((await runAnalyze(bot, null)).command).toBe('ANALYZE');
    expect((await runAnalyze(bot, rel)).command).toBe('ANALYZE "public"."shrink"');
  });

  it('lifts statement_timeout for the command only', async () => {
    await churnTable('slowvac', 8000, 4000);
    const tight = await openTargetSession(db.url, { statementTimeoutMs: 200 });
    try {
      // cost-based delay makes this VACUUM take well over the 200 ms statement_timeout
      await tight.query(`SET vacuum_cost_delay = '2ms'; SET vacuum_cost_limit = 1`);
      const res = await runVacuum(tight, await resolveRelation(tight, 'slowvac'));
      expect(res.durationMs).toBeGreaterThan(200);
      expect((await tight.query(`SELECT current_setting('statement_timeout') AS v`)).rows[0].v).toBe('200ms');
      await expect(tight.query('SELECT pg_sleep(0.5)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await tight.end();
    }
  });

  it('a conflicting lock fails fast as a typed conflict (lock_timeout stays)', async () => {
    await writer.query('CREATE TABLE locked (id int)');
    const rel = await resolveRelation(bot, 'locked');
    const quick = await openTargetSession(db.url, { lockTimeoutMs: 200 });
    await writer.query('BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
    try {
      const err = await runVacuum(quick, rel).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DbopsError);
      expect(err).toMatchObject({ code: 'conflict' });
      expect((err as DbopsError).userMessage).toContain('"public"."locked"');
      expect((await quick.query(`SELECT current_setting('statement_timeout') AS v`)).rows[0].v).toBe('15s');
    } finally {
      await writer.query('ROLLBACK');
      await quick.end();
    }
  });

  it('uses the catalog name at run time (a rename cannot redirect it) and reports a vanished table', async () => {
    await writer.query('CREATE TABLE before_rename (id int)');
    const rel = await resolveRelation(bot, 'before_rename');
    await writer.query('ALTER TABLE before_rename RENAME TO "After Rename"');
    expect((await runVacuum(bot, rel)).command).toBe('VACUUM "public"."After Rename"');
    await writer.query('DROP TABLE "After Rename"');
    await expect(runVacuum(bot, rel)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a role that may not vacuum the table gets its WARNING back, not silence', async () => {
    const role = await createTestRole('mnt');
    const weak = await connectAs(db.url, role.name, 'dbops');
    try {
      const res = await runVacuum(weak, await resolveRelation(weak, 'churn'));
      expect(res.notices.join('\n')).toMatch(/skipping "churn"/);
    } finally {
      await weak.end();
      await adminQuery(`REVOKE ALL ON DATABASE "${db.name}" FROM "${role.name}"`);
      await role.drop();
    }
  });
});

describe('vacuumProgress', () => {
  it('is observed from a second session while VACUUM runs, and null once it is done', async () => {
    await churnTable('big', 8000, 4000);
    const rel = await resolveRelation(bot, 'big');
    // Throttle this session's VACUUM (cost-based delay) so it reliably runs long enough to observe.
    await bot.query(`SET vacuum_cost_delay = '2ms'; SET vacuum_cost_limit = 1`);
    const pid = await backendPid(bot);
    try {
      const seen = await pollDuring(pid, runVacuum(bot, rel));
      expect(seen.length).toBeGreaterThan(0);
      const p = seen[0]!;
      expect(p).toMatchObject({ command: 'VACUUM', relation: 'big' });
      expect(typeof p.phase).toBe('string');
      expect(p.heapBlksTotal).toBeGreaterThan(50);
      expect(seen.some((x) => x.phase === 'scanning heap' && (x.percent ?? -1) >= 0 && (x.percent ?? 101) <= 100)).toBe(true);
      expect(await vacuumProgress(poller, pid)).toBeNull();
    } finally {
      await bot.query('RESET vacuum_cost_delay; RESET vacuum_cost_limit');
    }
  });

  it('reports VACUUM FULL through pg_stat_progress_cluster', async () => {
    // An index on a deliberately slow (declared immutable) function makes the rebuild phase observable.
    await writer.query(`
      CREATE FUNCTION slow_id(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN $1; END $$;
      CREATE TABLE rewrite (id int);
      INSERT INTO rewrite SELECT generate_series(1, 400);
      CREATE INDEX rewrite_slow ON rewrite (slow_id(id));`);
    const rel = await resolveRelation(bot, 'rewrite');
    const pid = await backendPid(bot);
    const seen = await pollDuring(pid, runVacuum(bot, rel, { full: true }));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((x) => x.command === 'VACUUM FULL' && x.relation === 'rewrite')).toBe(true);
    expect(seen.map((x) => x.phase)).toContain('rebuilding index');
    expect(seen.find((x) => x.phase === 'rebuilding index')).toMatchObject({ percent: 100, heapBlksVacuumed: null });
  });
});
