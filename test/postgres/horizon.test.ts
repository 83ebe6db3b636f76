import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { horizonHolders, oldestDataHolder, type HorizonHolder } from '../../src/postgres/horizon.js';
import { relationLockHolders } from '../../src/postgres/lock-holders.js';
import { parseVacuumVerbose } from '../../src/postgres/vacuum-verbose.js';
import { describeHolder } from '../../src/runbooks/horizon-advice.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { endAll, pidOf } from './support.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let bot: pg.Client;
const target = { name: 'demo', protectedApps: ['pgbouncer'], protectedUsers: [] };

beforeAll(async () => {
  db = await createTestDatabase('hz');
  bot = await connect(db.url, 'dbops-test');
  await bot.query('CREATE TABLE t (id int)');
});
afterAll(async () => {
  await bot?.end();
  await db?.drop();
});

describe('horizonHolders', () => {
  it('finds a session holding a snapshot, oldest first, with its age; never the caller itself', async () => {
    const old = await connect(db.url, 'old-report');
    const young = await connect(db.url, 'young');
    try {
      await old.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1');
      await bot.query('INSERT INTO t VALUES (1)'); // moves the xid counter so ages differ
      await young.query('BEGIN; SELECT txid_current()');
      const holders = await horizonHolders(bot);
      const pids = holders.filter((h) => h.kind === 'session').map((h) => (h as { pid: number }).pid);
      expect(pids).toEqual([await pidOf(old), await pidOf(young)]);
      const first = oldestDataHolder(holders)!;
      expect(first).toMatchObject({ kind: 'session', app: 'old-report', state: 'idle in transaction', isSuperuser: true, backendType: 'client backend' });
      expect(first.xidAge).toBeGreaterThan(holders[1]!.xidAge);
      expect(pids).not.toContain(await pidOf(bot));
    } finally {
      await endAll([old, young]);
    }
    expect((await horizonHolders(bot)).filter((h) => h.kind === 'session')).toEqual([]);
  });
});

describe('relationLockHolders', () => {
  it('lists only modes that conflict with the one wanted', async () => {
    const writer = await connect(db.url, 'writer');
    try {
      await writer.query('BEGIN; INSERT INTO t VALUES (2)'); // RowExclusiveLock
      expect(await relationLockHolders(bot, (await bot.query(`SELECT 't'::regclass::oid AS o`)).rows[0].o, 'ShareUpdateExclusiveLock')).toEqual([]);
      const full = await relationLockHolders(bot, (await bot.query(`SELECT 't'::regclass::oid AS o`)).rows[0].o, 'AccessExclusiveLock');
      expect(full).toMatchObject([{ pid: await pidOf(writer), app: 'writer', mode: 'RowExclusiveLock', granted: true, state: 'idle in transaction' }]);
    } finally {
      await endAll([writer]);
    }
  });
});

describe('parseVacuumVerbose', () => {
  it('reads PG15+ lazy vacuum, VACUUM FULL and PG ≤14 reports, ignoring TOAST', () => {
    expect(parseVacuumVerbose([
      'finished vacuuming "db.public.t": index scans: 0\npages: 0 removed, 345 remain, 345 scanned (100.00% of total)\ntuples: 0 removed, 20000 remain, 10000 are dead but not yet removable\nremovable cutoff: 748, which was 21 XIDs old when operation ended',
      'finished vacuuming "db.pg_toast.pg_toast_1": index scans: 0\ntuples: 5 removed, 0 remain, 7 are dead but not yet removable',
    ])).toEqual({ removed: 0, deadNotRemovable: 10000 });
    expect(parseVacuumVerbose(['vacuuming "public.t"', '"public.t": found 5000 removable, 5000 nonremovable row versions in 45 pages\n0 dead row versions cannot be removed yet.'])).toEqual({ removed: 5000, deadNotRemovable: 0 });
    expect(parseVacuumVerbose(['table "t": found 0 removable, 100 nonremovable row versions in 1 out of 1 pages\n40 dead row versions cannot be removed yet, oldest xmin: 733'])).toEqual({ removed: 0, deadNotRemovable: 40 });
    expect(parseVacuumVerbose(['analyzing "public.t"'])).toBeNull();
  });
});

describe('describeHolder', () => {
  const cases: Array<[HorizonHolder, RegExp]> = [
    [{ kind: 'session', pid: 17637, app: 'demo-app', user: 'app', state: 'idle in transaction', backendType: 'client backend', isSuperuser: false, heldSeconds: 1260, xidAge: 90, catalogOnly: false },
      /^pid 17637 \(demo-app, user app, idle in transaction\) has held a snapshot for 21m \(90 transactions old\) — `\/db kill demo 17637`$/],
    [{ kind: 'session', pid: 5, app: 'report', user: 'app', state: 'active', backendType: 'client backend', isSuperuser: true, heldSeconds: 30, xidAge: 3, catalogOnly: false }, /`\/db cancel demo 5 --include-superusers`/],
    [{ kind: 'session', pid: 6, app: 'pgbouncer', user: 'app', state: 'idle in transaction', backendType: 'client backend', isSuperuser: false, heldSeconds: 30, xidAge: 3, catalogOnly: false }, /protected on demo/],
    [{ kind: 'replication_slot', slotName: 'cdc', slotType: 'logical', active: false, activePid: null, xidAge: 5000, catalogOnly: true, heldSeconds: null }, /replication slot cdc \(logical, inactive\) holds catalog_xmin back 5000 transactions.*pg_drop_replication_slot\('cdc'\)/],
    [{ kind: 'prepared_xact', gid: "tx'1", owner: 'app', heldSeconds: 600, xidAge: 70, catalogOnly: false }, /prepared transaction tx'1 \(owner app\) has been open for 10m.*ROLLBACK PREPARED 'tx''1'/],
    [{ kind: 'standby', pid: 9, app: 'replica-1', client: '10.0.0.2', heldSeconds: null, xidAge: 12, catalogOnly: false }, /standby replica-1 \(hot_standby_feedback\) holds xmin back 12 transactions/],
  ];
  for (const [h, want] of cases) it(`${h.kind}: ${want.source.slice(0, 40)}`, () => expect(describeHolder(target, h)).toMatch(want));

  it('a catalog-only slot does not count for ordinary tables', () => {
    expect(oldestDataHolder([cases[3]![0], cases[4]![0]])).toBe(cases[4]![0]);
  });
});
