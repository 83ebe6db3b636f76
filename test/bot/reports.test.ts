// Health reports on the wire: each condition is created for real in PostgreSQL, then asked for with /db.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes } from '../../src/runbooks/report-format.js';
import { ask, eventually, startTestBot, stateQuery, targetsYaml, type TestBot } from '../helpers/bot.js';
import { adminQuery, bloatedTable, connect, createTestDatabase } from '../helpers/db.js';
import { startScratchCluster, type ScratchCluster } from '../helpers/scratch-cluster.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
/** A cluster with pg_stat_statements preloaded and wal_level=logical, when initdb is there and quick. */
let scratch: ScratchCluster | undefined;
let skipped = '';
const slot = `dbops_test_${randomBytes(4).toString('hex')}`;

/** Runs SQL on the target in one session of its own (so its statistics are flushed by the caller). */
async function onTarget<T>(fn: (c: pg.Client) => Promise<T>, url = target.url): Promise<T> {
  const c = await connect(url);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The lines of a report that mention `name` as code (`schema.name`). */
const linesOf = (text: string, name: string) => text.split('\n').filter((l) => l.includes(`\`${name}\``));

beforeAll(async () => {
  target = await createTestDatabase('reports');
  const s = await startScratchCluster({ shared_preload_libraries: 'pg_stat_statements', wal_level: 'logical', max_wal_senders: '5', max_replication_slots: '5' });
  if ('skipped' in s) skipped = s.skipped;
  else scratch = s;
  const targets: Record<string, string> = { demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` };
  if (scratch) targets.pgss = `environment: staging\nengine: self-hosted\nurl: ${scratch.url()}`;
  tb = await startTestBot({ targets: targetsYaml(targets) });
});

afterAll(async () => {
  await adminQuery('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]).catch(() => undefined);
  await tb?.stop();
  await target?.drop();
  await scratch?.stop();
});

it('/db bloat estimates a bloated table and its index, flags its dead tuples and shows xid ages', async () => {
  await bloatedTable(target.url, 'bloated', 20_000);
  await onTarget(async (c) => {
    // A tidy table of the same shape: statistics, no bloat. ANALYZE leaves dead tuples in place.
    await c.query(`CREATE TABLE tidy (id int PRIMARY KEY, payload text) WITH (autovacuum_enabled = false)`);
    await c.query(`INSERT INTO tidy SELECT g, repeat('x', 100) FROM generate_series(1, 10000) g`);
    await c.query('ANALYZE bloated; ANALYZE tidy');
  });
  const text = await ask(tb, 'bloat demo');
  expect(text).toContain('Bloat and vacuum health of');

  const [tableLine] = linesOf(text, 'public.bloated');
  // Half the rows are dead: the estimate says about half the table is bloat.
  expect(tableLine).toMatch(/\*1\d{3} kB\* of 2\d{3} kB \((4[5-9]|5[0-5])\.\d%\)/);
  // The tidy table is not listed: what the estimate finds there is within its own error.
  expect(linesOf(text, 'public.tidy').filter((l) => / of .*\(\d/.test(l))).toEqual([]);
  expect(linesOf(text, 'public.bloated_pkey')[0]).toMatch(/on `bloated` \*\d+ kB\* of \d+ kB \((4\d|5\d)\.\d%\)/);

  // Tables needing vacuum: 10,000 dead of 20,000 is 50 % ≥ the 20 % warning; autovacuum is off on it.
  const deadLine = linesOf(text, 'public.bloated').find((l) => l.includes('dead *'));
  expect(deadLine).toMatch(/dead \*10,000\* \(50(\.0)?%\) · live 10,000 · autovacuum \*off\* · last vacuum never, autovacuum never :warning: \*warn\*/);
  expect(text).toContain('1 warning');

  // Wraparound: this database's age, the distance left, and the oldest tables.
  expect(linesOf(text, target.name)[0]).toMatch(/\(this database\) xid age \*[\d,]+\* \(\d+\.\d% of the way, [\d,]+ left\) · multixact age [\d,]+/);
  expect(text).toContain('autovacuum_freeze_max_age');
  expect(text).toContain('Oldest tables in this database');

  const runs = await stateQuery(tb, `SELECT state, risk FROM runs WHERE runbook = 'bloat'`);
  expect(runs.rows).toEqual([{ state: 'succeeded', risk: 'read' }]);
});

it('/db indexes lists unused and duplicate indexes, and a large table read by sequential scans', async () => {
  await onTarget(async (c) => {
    await c.query(`CREATE TABLE orders (id int PRIMARY KEY, customer int, status text)`);
    await c.query(`INSERT INTO orders SELECT g, g % 100, CASE WHEN g % 3 = 0 THEN 'open' ELSE 'done' END FROM generate_series(1, 2000) g`);
    await c.query(`CREATE INDEX orders_status_idx ON orders (status)`);
    await c.query(`CREATE INDEX orders_customer_idx ON orders (customer)`);
    await c.query(`CREATE INDEX orders_customer_again ON orders (customer)`);
    await c.query(`CREATE UNIQUE INDEX orders_id_again ON orders (id)`);
    // Same column, other predicate or expression: not duplicates.
    await c.query(`CREATE INDEX orders_customer_open ON orders (customer) WHERE status = 'open'`);
    await c.query(`CREATE INDEX orders_lower_status ON orders (lower(status))`);
    // events: 30,000 rows scanned sequentially 60 times; lookups: as large, read by its primary key.
    await c.query(`CREATE TABLE events (id int PRIMARY KEY, kind int); INSERT INTO events SELECT g, g % 10 FROM generate_series(1, 30000) g`);
    await c.query(`CREATE TABLE lookups (id int PRIMARY KEY, v int); INSERT INTO lookups SELECT g, g FROM generate_series(1, 30000) g`);
    await c.query('ANALYZE events; ANALYZE lookups');
    for (let i = 0; i < 60; i++) {
      await c.query('SELECT count(*) FROM events WHERE kind = $1', [i % 10]);
      await c.query('SELECT v FROM lookups WHERE id = $1', [i + 1]);
    }
    await c.query('SELECT pg_stat_force_next_flush()');
  });
  await new Promise((r) => setTimeout(r, 200));

  const text = await ask(tb, 'indexes demo');
  expect(text).toContain('Unused indexes');
  expect(linesOf(text, 'public.orders_status_idx')[0]).toMatch(/on `orders` \*\d+ kB\*/);
  expect(text).toContain('CREATE INDEX orders_status_idx ON public.orders USING btree (status)');
  // Unique and primary-key indexes are never "unused".
  expect(linesOf(text, 'public.orders_pkey')).toEqual([]);
  expect(linesOf(text, 'public.orders_id_again')).toEqual([]);

  const dupLines = linesOf(text, 'public.orders').filter((l) => l.includes('keep'));
  expect(dupLines).toHaveLength(2);
  expect(dupLines.some((l) => /keep `orders_pkey` \(primary key, [^)]+\); `orders_id_again` \(unique, [^)]+\) duplicates it/.test(l))).toBe(true);
  expect(dupLines.some((l) => /keep `orders_customer_again` \(\d+ scans, [^)]+\); `orders_customer_idx` \(\d+ scans, [^)]+\) duplicates it/.test(l))).toBe(true);
  expect(dupLines.join('\n')).not.toMatch(/orders_customer_open|orders_lower_status/);

  const [events] = linesOf(text, 'public.events');
  expect(events).toMatch(/seq scans \*6\d\* vs index scans 0 · 1,8\d\d,\d{3} rows read sequentially \(~\d\d,\d{3} per scan\) · ~30,000 rows, \d+ kB/);
  expect(linesOf(text, 'public.lookups').filter((l) => l.includes('seq scans'))).toEqual([]);

  // One kind only.
  const missing = await ask(tb, 'indexes demo --missing');
  expect(missing).toContain('Missing index candidates');
  expect(missing).toContain('`public.events`');
  expect(missing).not.toContain('Unused indexes');
  expect(missing).not.toContain('Duplicate indexes');
});

it('/db size shows the database and the largest tables split into table, indexes and TOAST, largest first', async () => {
  await onTarget(async (c) => {
    // Autovacuum off (heap and TOAST) so no visibility map appears between report and check.
    const off = `WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)`;
    await c.query(`CREATE TABLE sz_toast (id int PRIMARY KEY, doc text) ${off}`);
    await c.query(`ALTER TABLE sz_toast ALTER COLUMN doc SET STORAGE EXTERNAL`);
    await c.query(`INSERT INTO sz_toast SELECT g, repeat(md5(g::text), 250) FROM generate_series(1, 1200) g`);
    await c.query(`CREATE TABLE sz_indexed (a int, b int, c int) ${off}`);
    await c.query(`INSERT INTO sz_indexed SELECT g, g, g FROM generate_series(1, 40000) g`);
    await c.query(`CREATE INDEX ON sz_indexed (a); CREATE INDEX ON sz_indexed (b); CREATE INDEX ON sz_indexed (c)`);
    await c.query(`CREATE TABLE sz_small (id int) ${off}; INSERT INTO sz_small VALUES (1)`);
  });
  const text = await ask(tb, 'size demo');
  const expected = (
    await onTarget((c) =>
      c.query(
        `SELECT c.relname AS name, pg_total_relation_size(c.oid)::float8 AS total, pg_indexes_size(c.oid)::float8 AS idx,
                (CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END)::float8 AS toast
           FROM pg_class c WHERE c.relname IN ('sz_toast', 'sz_indexed', 'sz_small') AND c.relkind = 'r' ORDER BY 2 DESC`,
      ),
    )
  ).rows as Array<{ name: string; total: number; idx: number; toast: number }>;
  expect(expected.map((r) => r.name)).toEqual(['sz_toast', 'sz_indexed', 'sz_small']);
  expect(text).toMatch(/\*Size\*\n\d+ (kB|MB)/);
  // In the report's order, each with table + indexes + TOAST adding up to its total.
  const pos = expected.map((r) => text.indexOf(`\`public.${r.name}\``));
  expect(pos.every((p) => p > 0)).toBe(true);
  expect([...pos].sort((a, b) => a - b)).toEqual(pos);
  for (const r of expected) {
    expect(linesOf(text, `public.${r.name}`)[0]).toContain(`*${bytes(r.total)}* = table ${bytes(r.total - r.idx - r.toast)} + indexes ${bytes(r.idx)} + TOAST ${bytes(r.toast)}`);
  }
  expect(expected[0]!.toast).toBeGreaterThan(expected[0]!.total / 2);
  expect(expected[1]!.idx).toBeGreaterThan(expected[1]!.total / 2);
});

describe('/db replication', () => {
  it('shows an inactive physical slot holding WAL, and says when no replica is connected', async () => {
    await adminQuery(`SELECT pg_create_physical_replication_slot($1, true)`, [slot]);
    // Some WAL after the slot's restart_lsn, so it visibly retains some.
    await onTarget((c) => c.query(`CREATE TABLE wal_maker AS SELECT g FROM generate_series(1, 20000) g`));
    const replicas = Number((await adminQuery('SELECT count(*) AS n FROM pg_stat_replication')).rows[0].n);
    const text = await ask(tb, 'replication demo');
    const [line] = linesOf(text, slot);
    expect(line).toMatch(/physical · \*inactive\* · holding \*\d+ (bytes|kB|MB)\* of WAL · wal_status (reserved|extended)/);
    if (replicas === 0) expect(text).toContain('No replicas are connected.');
    await adminQuery('SELECT pg_drop_replication_slot($1)', [slot]);
    expect(linesOf(await ask(tb, 'replication demo'), slot)).toEqual([]);
  });

  it('shows a streaming replica with its lag and a logical slot (scratch cluster, wal_level=logical)', async (ctx) => {
    if (!scratch) return ctx.skip(skipped);
    const sc = scratch;
    await onTarget((c) => c.query(`SELECT pg_create_logical_replication_slot('dbops_logical', 'pgoutput')`), sc.url());
    await onTarget((c) => c.query(`SELECT pg_create_physical_replication_slot('dbops_receiver', true)`), sc.url());
    const dir = mkdtempSync(join(tmpdir(), 'dbops-receivewal-'));
    // pg_receivewal streams WAL like a replica (it flushes but never replays).
    const receiver: ChildProcess = spawn(join(sc.bindir, 'pg_receivewal'), ['-h', '127.0.0.1', '-p', String(sc.port), '-U', 'postgres', '-D', dir, '-S', 'dbops_receiver', '-n', '--no-sync', '-s', '1'], { stdio: 'ignore' });
    try {
      await eventually(async () => (await onTarget((c) => c.query(`SELECT 1 FROM pg_stat_replication WHERE state = 'streaming' AND flush_lsn IS NOT NULL`), sc.url())).rowCount, 8000, 'pg_receivewal streaming');
      const text = await ask(tb, 'replication pgss');
      expect(text).toContain('1 replica(s), 2 slot(s)');
      const [replica] = linesOf(text, 'pg_receivewal');
      expect(replica).toMatch(/from `127\.0\.0\.1` · streaming, async · slot `dbops_receiver`/);
      expect(text).toMatch(/lag: replay \*not reported\* \(it does not replay\) · flush \d+ (bytes|kB)/);
      expect(linesOf(text, 'dbops_receiver').find((l) => l.startsWith('•') && l.includes('physical'))).toMatch(/physical · active \(pid \d+\) · retains \*\d+ (bytes|kB|MB)\* of WAL/);
      expect(linesOf(text, 'dbops_logical')[0]).toMatch(/logical \(pgoutput on `postgres`\) · \*inactive\* · holding \*\d+ (bytes|kB|MB)\* of WAL/);
    } finally {
      receiver.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('/db slow', () => {
  it('without pg_stat_statements says how to enable it, step by step', async () => {
    const preloaded = (await adminQuery('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries.includes('pg_stat_statements');
    const text = await ask(tb, 'slow demo');
    expect(text).toContain('pg_stat_statements is not enabled');
    if (!preloaded) expect(text).toContain("`shared_preload_libraries = 'pg_stat_statements'` in postgresql.conf");
    if (!preloaded) expect(text).toContain('restart PostgreSQL');
    expect(text).toContain('`CREATE EXTENSION pg_stat_statements;`');

    // Created but not loaded (CREATE EXTENSION works without the library): only the restart is missing.
    if (preloaded) return;
    await onTarget((c) => c.query('CREATE EXTENSION pg_stat_statements'));
    const again = await ask(tb, 'slow demo');
    expect(again).toContain('but its library is not loaded');
    expect(again).toContain('restart PostgreSQL');
    expect(again).not.toContain('CREATE EXTENSION pg_stat_statements;');
  });

  it('with pg_stat_statements lists the top statements by mean time or calls (scratch cluster)', async (ctx) => {
    if (!scratch) return ctx.skip(skipped);
    const sc = scratch;
    await onTarget(async (c) => {
      await c.query('CREATE EXTENSION pg_stat_statements');
      await c.query('CREATE TABLE slow_t (id int PRIMARY KEY); INSERT INTO slow_t SELECT generate_series(1, 1000)');
      for (let i = 0; i < 3; i++) await c.query('SELECT pg_sleep($1)', [0.2]);
      for (let i = 0; i < 200; i++) await c.query('SELECT id FROM slow_t WHERE id = $1', [i + 1]);
    }, sc.url());

    const byMean = await ask(tb, 'slow pgss');
    expect(byMean).toContain('by mean time on postgres');
    const first = byMean.split('\n').findIndex((l) => l.startsWith('*1.*'));
    expect(byMean.split('\n')[first]).toMatch(/^\*1\.\* mean \*2\d\d\.\d ms\* · total \*6\d\d\.\d ms\* \(\d+\.\d%\) · calls \*3\* · rows 3 · hit /);
    expect(byMean.split('\n')[first + 1]).toContain('`SELECT pg_sleep($1)`');

    const byCalls = await ask(tb, 'slow pgss --by calls --limit 2');
    expect(byCalls).toContain('Top 2 statement(s) by calls');
    expect(byCalls).toMatch(/\*1\.\* mean \*\d+(\.\d+)? (µs|ms)\* · total \*\d+(\.\d+)? (µs|ms)\* \(\d+\.\d%\) · calls \*200\* · rows 200 · hit (9\d\.\d|100)%/);
    expect(byCalls).toContain('`SELECT id FROM slow_t WHERE id = $1`');
    expect(byCalls).not.toContain('*3.*');

    expect(await ask(tb, 'slow pgss --by often')).toMatch(/use mean, total or calls/);
    expect(await ask(tb, 'slow pgss --limit 500')).toMatch(/at most 25/);
  });
});
