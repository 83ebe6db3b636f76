import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerFor } from '../../src/providers/index.js';
import { restoreRisk } from '../../src/runbooks/restore.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER, ask, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let demo: Awaited<ReturnType<typeof createTestDatabase>>;
let big: Awaited<ReturnType<typeof createTestDatabase>>;
let store: string;
const children: ChildProcess[] = [];
const extraDbs: string[] = [];

/** Runs execute in separate worker processes (built JS), so one can be SIGKILLed mid-restore. */
function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ['dist/src/main.js', '--role', 'worker'], {
    env: { ...process.env, ...tb.env, DBOPS_LOCK_DURATION_MS: '3000', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

async function q<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await connect(url);
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** This file's databases (other test files create theirs on the same server at the same time). */
const databases = async () => (await adminQuery(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) OR starts_with(datname, $2) ORDER BY 1`, [demo.name, big.name])).rows.map((r) => r.datname as string);
const dbUrl = (name: string) => {
  const u = new URL(demo.url);
  u.pathname = `/${name}`;
  return u.toString();
};

async function finished(runId: string, ms = 60_000): Promise<{ state: string; error: string | null; attempts: number }> {
  return eventually(async () => (await stateQuery(tb, `SELECT state, error, attempts FROM runs WHERE id = $1 AND state IN ('succeeded','failed')`, [runId])).rows[0], ms, `run ${runId} finished`);
}

async function output(runId: string, step: string): Promise<Record<string, any>> {
  return (await stateQuery(tb, `SELECT output FROM run_steps WHERE run_id = $1 AND name = $2`, [runId, step])).rows[0]!.output;
}

/** Requests a destructive verb, approves its card as APPROVER, returns the run id. */
async function approved(text: string): Promise<string> {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
  const card = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)) && tb.fake.callsOf('chat.postMessage').indexOf(c) >= before, 20_000);
  // The card names the restore run too (in its summary): the card's own run is the one after "Run".
  const runId = /Run `(r_[0-9a-f]{12})`/.exec(textOf(card.args as never))![1]!;
  await tb.fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId));
  await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
  return runId;
}

beforeAll(async () => {
  demo = await createTestDatabase('rst');
  big = await createTestDatabase('rstbig');
  store = mkdtempSync(join(tmpdir(), 'dbops-restore-store-'));
  const c = await connect(demo.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now() - interval '1 minute', note text)`);
  await c.query(`INSERT INTO orders (id, note) SELECT g, 'order ' || g FROM generate_series(1, 1000) g`);
  await c.query(`CREATE TABLE customers (id int PRIMARY KEY, name text)`);
  await c.query(`INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g`);
  await c.query(`CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)`);
  await c.query(`INSERT INTO schema_migrations VALUES (42, false)`);
  await c.end();
  // Large enough that pg_restore takes a few seconds (so a worker can die in the middle of it).
  const b = await connect(big.url);
  await b.query(`CREATE TABLE events (id bigint PRIMARY KEY, payload text)`);
  await b.query(`INSERT INTO events SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 1500000) g`);
  await b.end();
  const backups = (dir: string) => `backups: { store: ${dir}, jobs: 2 }`;
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: staging\nengine: self-hosted\nurl: ${demo.url}\n${backups(join(store, 'demo'))}\nfreshness: [public.orders.created_at]`,
      big: `environment: staging\nengine: self-hosted\nurl: ${big.url}\n${backups(join(store, 'big'))}`,
    }),
    start: { role: 'web' },
  });
  spawnWorker();
}, 90_000);

afterAll(async () => {
  for (const ch of children) ch.kill('SIGKILL');
  await tb?.stop();
  for (const n of extraDbs) await adminQuery(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => undefined);
  await demo?.drop();
  await big?.drop();
  if (store) rmSync(store, { recursive: true, force: true });
});

const target = (name: 'demo' | 'big') => ({ name, engine: 'self-hosted' as const, url: name === 'demo' ? demo.url : big.url, backups: { store: join(store, name), jobs: 2 } });

it('restores are destructive in production only', () => {
  expect(restoreRisk({ environment: 'production' } as never)).toBe('destructive');
  expect(restoreRisk({ environment: 'staging' } as never)).toBe('change');
});

describe('self-hosted restore, cutover, rollback', () => {
  let snapshotId: string;
  let restoreRun: string;
  let restoredName: string;

  it('pre-checks refuse (unknown dump, taken name) and create nothing', async () => {
    await providerFor(target('demo')).startSnapshot('before-delete');
    snapshotId = 'before-delete';
    const dbs = await databases();
    expect(await ask(tb, 'restore demo --snapshot no-such-dump')).toMatch(/Restore refused, nothing was created: No finished dump no-such-dump of demo/);
    expect(await ask(tb, `restore demo --snapshot ${snapshotId} --as ${big.name}`)).toMatch(new RegExp(`A database named ${big.name} already exists`));
    expect(await databases()).toEqual(dbs);
    expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE runbook = 'restore'`)).rows[0].n).toBe(0);
  });

  it('an accidental DELETE, then a restore into a new database that validates against the manifest and the source', async () => {
    await q(demo.url, `DELETE FROM orders WHERE id > 500`);
    const reply = await ask(tb, `restore demo --snapshot ${snapshotId}`);
    restoreRun = /r_[0-9a-f]{12}/.exec(reply)![0];
    const done = await finished(restoreRun);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1 });
    const restored = await output(restoreRun, 'restore');
    restoredName = restored.newDatabase;
    extraDbs.push(restoredName);
    expect(await databases()).toContain(restoredName);
    expect((await q<{ n: number }>(dbUrl(restoredName), `SELECT count(*)::int AS n FROM orders`))[0]!.n).toBe(1000);
    expect((await q<{ n: number }>(demo.url, `SELECT count(*)::int AS n FROM orders`))[0]!.n).toBe(500);

    const v = await output(restoreRun, 'validate');
    expect(v.restoredVsManifest).toEqual([]);
    expect(v.sourceDiffers).toEqual(['public.orders: restored 1000, demo now 500']);
    expect(v.schema.restored).toEqual([{ tool: 'golang-migrate', table: 'public.schema_migrations', version: '42', applied: 1 }]);
    expect(v.diff).toEqual({ onlyInSource: [], onlyInRestored: [], changed: [] });
    expect(v.freshness).toMatchObject([{ column: 'public.orders.created_at', ok: true }]);
    // The pre-restore snapshot of the current (damaged) state was taken, deterministically named.
    const pre = (await output(restoreRun, 'pre-restore-snapshot')).snapshotId as string;
    expect(pre).toBe(`dbops-demo-pre-restore-${restoreRun.replace('_', '-')}`);
    expect((await providerFor(target('demo')).listSnapshots()).map((s) => s.id)).toContain(pre);
    // The thread's result offers the cutover.
    const result = await eventually(() => tb.fake.callsOf('chat.postMessage').map((c) => textOf(c.args as never)).find((t) => t.includes(`/db cutover demo ${restoreRun}`)), 10_000, 'result with cutover');
    expect(result).toMatch(/untouched until cutover/);
  }, 60_000);

  let cutoverRun: string;
  it('cutover swaps: the target name serves the restored data, the previous one is kept, sessions drained', async () => {
    const app = await connect(demo.url, 'orders-app');
    cutoverRun = await approved(`cutover demo ${restoreRun} --reason "bad DELETE"`);
    const card = textOf(tb.fake.callsOf('chat.postMessage').find((c) => JSON.stringify(c.args).includes(cutoverRun) && /Approval needed/.test(textOf(c.args as never)))!.args as never);
    const old = `${demo.name}_old_${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
    extraDbs.push(old);
    expect(card).toContain(`1. ${demo.name} → ${old}`);
    expect(card).toContain(`2. ${restoredName} → ${demo.name}`);
    expect(await finished(cutoverRun)).toMatchObject({ state: 'succeeded' });
    // The application's session was ended by the drain (its pool would reconnect to the restored data).
    await expect(app.query('SELECT 1')).rejects.toThrow();
    const dbs = await databases();
    expect(dbs).toContain(old);
    expect(dbs).not.toContain(restoredName);
    // A fresh connection to the target's own URL sees the restored rows; nothing was lost.
    expect((await q<{ n: number }>(demo.url, `SELECT count(*)::int AS n FROM orders`))[0]!.n).toBe(1000);
    expect((await q<{ n: number }>(dbUrl(old), `SELECT count(*)::int AS n FROM orders`))[0]!.n).toBe(500);
    // Connection settings are back.
    const settings = (await adminQuery(`SELECT datname, datallowconn, datconnlimit FROM pg_database WHERE datname = ANY($1) ORDER BY 1`, [[demo.name, old]])).rows;
    expect(settings.every((s) => s.datallowconn === true && s.datconnlimit === -1)).toBe(true);
    const sw = await output(cutoverRun, 'swap');
    expect(sw.signals).toMatchObject([{ outcome: 'terminated' }]);
  }, 60_000);

  it('rollback swaps back; nothing lost either way', async () => {
    const rb = await approved(`rollback demo ${cutoverRun}`);
    expect(await finished(rb)).toMatchObject({ state: 'succeeded' });
    const dbs = await databases();
    expect(dbs).toContain(restoredName);
    expect(dbs).not.toContain(`${demo.name}_old_${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`);
    expect((await q<{ n: number }>(demo.url, `SELECT count(*)::int AS n FROM orders`))[0]!.n).toBe(500);
    expect((await q<{ n: number }>(dbUrl(restoredName), `SELECT count(*)::int AS n FROM orders`))[0]!.n).toBe(1000);
    // The restored database is a finished restore again: it can be cut over once more.
    const comment = (await adminQuery(`SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1`, [restoredName])).rows[0].c;
    expect(comment).toBe(`dbops restore ${restoreRun} restored`);
  }, 60_000);
});

it('a worker SIGKILLed during pg_restore: the run resumes, redoes the restore from scratch and completes once', async () => {
  const id = 'big-1';
  await providerFor(target('big')).startSnapshot(id);
  const reply = await ask(tb, `restore big --snapshot ${id} --as ${big.name}_r`);
  const runId = /r_[0-9a-f]{12}/.exec(reply)![0];
  extraDbs.push(`${big.name}_r`);
  // pg_restore (application_name dbops) loading data into the new database.
  await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'COPY%'`, [`${big.name}_r`])).rowCount, 30_000, 'pg_restore copying');
  const first = children[children.length - 1]!;
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  expect((await stateQuery(tb, `SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state).toBe('running');
  spawnWorker();
  expect(await finished(runId, 60_000)).toMatchObject({ state: 'succeeded', attempts: 2 });
  const steps = (await stateQuery(tb, `SELECT name, state, attempts FROM run_steps WHERE run_id = $1 ORDER BY idx`, [runId])).rows;
  expect(steps).toEqual([
    { name: 'precheck', state: 'done', attempts: 1 },
    { name: 'pre-restore-snapshot', state: 'done', attempts: 1 },
    { name: 'restore', state: 'done', attempts: 2 },
    { name: 'validate', state: 'done', attempts: 1 },
  ]);
  expect((await output(runId, 'validate')).restoredVsManifest).toEqual([]);
  expect((await q<{ n: number }>(dbUrl(`${big.name}_r`), `SELECT count(*)::int AS n FROM events`))[0]!.n).toBe(1_500_000);
  expect((await databases()).filter((d) => d.startsWith(`${big.name}_r`))).toEqual([`${big.name}_r`]);
  const finishes = (await stateQuery(tb, `SELECT count(*)::int AS n FROM audit WHERE run_id = $1 AND action = 'finish'`, [runId])).rows[0].n;
  expect(finishes).toBe(1);
}, 90_000);
