/**
 * Kill bench: how long does the guarded, approval-bound kill take for N idle sessions, compared with
 * the runbooks' bare `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE …`?
 *
 *   npm run build && node dist/bench/kill.js [--sessions=2000] [--deadline=600] [--no-scratch]
 *
 * Beside the inner function (a) and the bare statement (b), (d) goes through the running bot as
 * Slack would: a signed `/db kill`, its approval card, a signed Approve click, BullMQ and a real
 * worker, timed from the click to the first session gone and to all gone (50 and N sessions); (e)
 * the approval click → run started latency over 20 approvals with the queue idle; (f) the RSS of an
 * idle `npm start` (dist/src/main.js) once ready.
 *
 * N sessions need max_connections > N, so it initdb's a throwaway cluster in a temp dir on a free
 * 127.0.0.1 port (as the postgres OS user when run as root), and removes it at the end. If that is
 * impossible it falls back to the machine's server with as many sessions as it can spare, and says so.
 * Bounded: a deadline stops everything; only 127.0.0.1 is touched.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { signalSessions } from '../src/postgres/kill.js';
import { openTargetSession } from '../src/postgres/session.js';
import { listSessions } from '../src/postgres/sessions.js';
import { startBenchBot, type BenchBot } from './bench-bot.js';
import { isExecutable } from './pg-bench.js';

const arg = (name: string, dflt: number) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  const v = hit ? Number(hit.split('=')[1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};
const WANTED = arg('sessions', 2000);
const DEADLINE_S = arg('deadline', 600);
const NO_SCRATCH = process.argv.includes('--no-scratch'); // force the fallback (to check it)
const BATCH = 100;

interface Cluster { url: string; sessions: number; description: string; stop: () => void }

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Where initdb and pg_ctl are: `pg_config --bindir` first (Debian keeps the server binaries off PATH,
 * in a versioned directory pg_config names), then PATH. Throws one line saying what was tried.
 */
function findPgBinaries(): { initdb: string; pgCtl: string } {
  const tried: string[] = [];
  try {
    const bindir = execFileSync('pg_config', ['--bindir'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString().trim();
    const initdb = join(bindir, 'initdb');
    const pgCtl = join(bindir, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { initdb, pgCtl };
    tried.push(`pg_config --bindir is ${bindir}, which has no initdb/pg_ctl (only the client package installed?)`);
  } catch {
    tried.push('pg_config is not on PATH');
  }
  const onPath = (name: string) => (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)).find((p) => p && isExecutable(p));
  const initdb = onPath('initdb');
  const pgCtl = onPath('pg_ctl');
  if (initdb && pgCtl) return { initdb, pgCtl };
  tried.push(`${[!initdb && 'initdb', !pgCtl && 'pg_ctl'].filter(Boolean).join(' and ')} not on PATH`);
  throw new Error(`cannot find initdb/pg_ctl: ${tried.join('; ')}. Install the PostgreSQL server package, or put its bin directory (the one holding initdb) on PATH`);
}

/** A scratch cluster owned by the postgres OS user when we are root (initdb refuses root). */
async function scratchCluster(n: number): Promise<Cluster> {
  const bin = findPgBinaries();
  const version = execFileSync(bin.initdb, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().replace(/^initdb\s+\(PostgreSQL\)\s+/, '');
  const dir = mkdtempSync(join(tmpdir(), 'dbops-bench-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe', timeout: 120_000 })
      : execFileSync(cmd, args, { stdio: 'pipe', timeout: 120_000 });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
    }
    const data = join(dir, 'data');
    run(bin.initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    const port = await freePort();
    const maxConn = n + 100;
    const opts = [
      `-c port=${port}`, `-c listen_addresses=127.0.0.1`, `-c unix_socket_directories=${dir}`,
      `-c max_connections=${maxConn}`, '-c fsync=off', '-c shared_buffers=128MB', '-c autovacuum=off',
    ].join(' ');
    run(bin.pgCtl, ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    let stopped = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      sessions: n,
      description: `scratch PostgreSQL ${version} cluster at 127.0.0.1:${port} (initdb in ${dir}, max_connections=${maxConn})`,
      stop: () => {
        if (stopped) return;
        stopped = true;
        try { run(bin.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']); } catch { /* already down */ }
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** The machine's server, with only the slots it can spare. */
async function machineServer(n: number): Promise<Cluster> {
  const url = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query(`SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*)::int AS free
                             FROM pg_stat_activity WHERE backend_type = 'client backend'`);
  await c.end();
  // leave room for the bot, the poller and whatever else runs here (tests)
  const sessions = Math.max(0, Math.min(n, (r.rows[0].free as number) - 20));
  if (sessions === 0) throw new Error('the machine server has no spare connection slots');
  return { url, sessions, description: `FALLBACK: the machine's server at 127.0.0.1:5432 (no scratch cluster), ${sessions} sessions instead of ${n}`, stop: () => undefined };
}

async function openIdle(url: string, n: number, app: string): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, async () => {
      const c = new pg.Client({ connectionString: url, application_name: app });
      c.on('error', () => undefined); // these sessions are about to be terminated
      await c.connect();
      return c;
    }));
    clients.push(...batch);
  }
  return clients;
}

async function untilGone(poller: pg.Client, app: string): Promise<void> {
  for (;;) {
    const r = await poller.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app]);
    if (r.rows[0].n === 0) return;
    await new Promise((res) => setTimeout(res, 5));
  }
}

async function main(): Promise<void> {
  console.log(`dbops kill bench: ${WANTED} idle sessions, deadline ${DEADLINE_S} s`);
  let cluster: Cluster;
  try {
    if (NO_SCRATCH) throw new Error('--no-scratch given');
    cluster = await scratchCluster(WANTED);
  } catch (err) {
    console.log(`scratch cluster impossible (${(err as Error).message.split('\n')[0]}); falling back`);
    cluster = await machineServer(WANTED);
  }
  const stopAll = () => cluster.stop();
  const timer = setTimeout(() => { console.error(`deadline of ${DEADLINE_S} s reached: stopping`); stopAll(); process.exit(2); }, DEADLINE_S * 1000);
  process.once('SIGINT', () => { stopAll(); process.exit(130); });
  const n = cluster.sessions;
  console.log(`cluster: ${cluster.description}`);

  const bot = await openTargetSession(cluster.url, { statementTimeoutMs: 120_000 }, 'bench');
  const poller = await openTargetSession(cluster.url, {}, 'bench');
  const leftovers: pg.Client[] = [];
  try {
    // (a) the guarded path: plan (list + approve) then one signalSessions statement
    let t0 = process.hrtime.bigint();
    leftovers.push(...(await openIdle(cluster.url, n, 'bench-guarded')));
    console.log(`opened ${n} sessions in ${fmt(ms(t0))}`);
    t0 = process.hrtime.bigint();
    const approved = (await listSessions(bot, { app: 'bench-guarded', includeSuperusers: true })).sessions
      .map((s) => ({ pid: s.pid, backendStart: s.backendStart }));
    const planMs = ms(t0);
    t0 = process.hrtime.bigint();
    const results = await signalSessions(bot, 'terminate', approved);
    const signalMs = ms(t0);
    await untilGone(poller, 'bench-guarded');
    const goneMs = ms(t0);
    const tally: Record<string, number> = {};
    for (const r of results) tally[r.outcome] = (tally[r.outcome] ?? 0) + 1;
    console.log(`(a) signalSessions terminate, ${approved.length} approved: listing ${fmt(planMs)}; statement ${fmt(signalMs)}; all gone after ${fmt(goneMs)}; outcomes ${JSON.stringify(tally)}`);

    // (b) the runbooks' bare statement over as many fresh sessions
    leftovers.push(...(await openIdle(cluster.url, n, 'bench-bare')));
    t0 = process.hrtime.bigint();
    const bare = await bot.query(`SELECT count(*) FILTER (WHERE ok)::int AS n FROM (SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
                                   WHERE application_name = 'bench-bare' AND pid <> pg_backend_pid()) s`);
    const bareMs = ms(t0);
    await untilGone(poller, 'bench-bare');
    const bareGoneMs = ms(t0);
    console.log(`(b) bare pg_terminate_backend over pg_stat_activity, ${n} sessions: statement ${fmt(bareMs)}; all gone after ${fmt(bareGoneMs)}; signalled ${bare.rows[0].n}`);

    // (c) server-confirmed exits (PG14+ timeout argument): the server polls each pid every 100 ms
    const m = Math.min(n, 30);
    leftovers.push(...(await openIdle(cluster.url, m, 'bench-confirm')));
    const approvedC = (await listSessions(bot, { app: 'bench-confirm', includeSuperusers: true })).sessions.map((s) => ({ pid: s.pid, backendStart: s.backendStart }));
    t0 = process.hrtime.bigint();
    const confirmed = await signalSessions(bot, 'terminate', approvedC, { timeoutMs: 60_000 });
    console.log(`(c) signalSessions with timeoutMs, ${m} sessions: ${fmt(ms(t0))}, confirmed ${confirmed.filter((r) => r.confirmed).length}/${m} (≈${fmt(ms(t0) / m)} per session)`);

    // (d)–(f): through the running bot.
    const bb = await startBenchBot(cluster.url, `maxSessions: ${n + 100}`);
    try {
      for (const size of [...new Set([Math.min(50, n), n])]) {
        const app = `bench-bot-${size}`;
        leftovers.push(...(await openIdle(cluster.url, size, app)));
        const card = await bb.requestCard(`kill bench idle --app ${app} --include-superusers`);
        const t = await viaBot(bb, card, poller, app, size);
        const ratio = size === n ? `; ${(t.goneMs / bareGoneMs).toFixed(2)}× the bare statement's all gone (goal ≤ 1.2×)` : '';
        console.log(`(d) through the bot, ${size} sessions: click acked ${fmt(t.ackMs)}; first session gone ${fmt(t.firstMs)} after the click${size <= 50 ? ' (goal < 300 ms)' : ''}; all gone ${fmt(t.goneMs)}${ratio}; run ${t.state}\n    after the click: ${t.timeline}`);
      }
      const starts: number[] = [];
      for (let i = 0; i < 20; i++) {
        const card = await bb.requestCard('analyze bench');
        const sent = Date.now();
        await bb.approve(card);
        const started = await waitFor(async () => (await bb.run(card.runId))?.startedAt ?? undefined).catch(async () => {
          const answers = bb.fake.callsOf('response_url').slice(-3).map((c) => JSON.stringify(c.args).slice(0, 300));
          throw new Error(`run ${card.runId} did not start: ${JSON.stringify(await bb.run(card.runId))}; last answers ${answers.join(' | ')}`);
        });
        starts.push(started.getTime() - sent);
        await waitFor(async () => ((await bb.run(card.runId))?.state === 'succeeded' ? true : undefined));
      }
      starts.sort((a, b) => a - b);
      console.log(`(e) approval click → run started, 20 approvals, queue idle: p50 ${fmt(starts[9]!)}, p99 ${fmt(starts[19]!)} (goal p99 < 100 ms)`);
      const rss = await idleRss(bb.env);
      console.log(`(f) idle \`npm start\` (dist/src/main.js, web + worker) once ready: RSS ${(rss / 1024 / 1024).toFixed(0)} MB (goal < 150 MB)`);
    } finally {
      await bb.stop();
    }
  } finally {
    clearTimeout(timer);
    await Promise.all([bot, poller, ...leftovers].map((c) => c.end().catch(() => undefined)));
    stopAll();
  }
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Click → first session gone and → all gone, watched every few ms on a session of its own. */
async function viaBot(bb: BenchBot, card: { runId: string; ts: string }, poller: pg.Client, app: string, size: number) {
  const wall = Date.now();
  const t0 = process.hrtime.bigint();
  const click = bb.approve(card).then(() => ms(t0));
  let firstMs = 0;
  for (;;) {
    const left = (await poller.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app])).rows[0].n as number;
    if (left < size && !firstMs) firstMs = ms(t0);
    if (left === 0) break;
    if (ms(t0) > 120_000) throw new Error(`${left} of ${size} sessions still there after 120 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const goneMs = ms(t0);
  const ackMs = await click;
  const state = await waitFor(async () => {
    const r = await bb.run(card.runId);
    return r && ['succeeded', 'failed'].includes(r.state) ? r.state : undefined;
  });
  return { ackMs, firstMs, goneMs, state, timeline: await bb.timeline(card.runId, wall) };
}

/** Starts dist/src/main.js as `npm start` does, waits for /readyz, lets it idle 5 s, reads its RSS. */
async function idleRss(env: Record<string, string | undefined>): Promise<number> {
  const port = await freePort();
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const child = spawn(process.execPath, [main], { env: { ...env, PORT: String(port), LOG_LEVEL: 'warn', DBOPS_QUEUE_PREFIX: `${env.DBOPS_QUEUE_PREFIX}-rss` }, stdio: 'ignore' });
  try {
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 5000));
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
    return kb * 1024;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => { console.error(`bench failed: ${(err as Error).stack ?? String(err)}`); process.exit(1); },
);
