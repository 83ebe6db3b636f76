/**
 * Dump bench: how fast is the bot's dump (pg_dump + concurrent row counts in the dump's snapshot +
 * sha256 + store + manifest, through the self-hosted provider's startSnapshot) against a bare
 * `pg_dump` of the same database, same format and jobs?
 *
 *   npm run build && node dist/bench/dump.js [--mb=100] [--jobs=N] [--rounds=3]
 *
 * It creates a bench-owned database of at least --mb MiB on the server at BENCH_PG_URL (default
 * TEST_PG_ADMIN_URL, then postgres://postgres@127.0.0.1:5432/postgres; the role needs CREATEDB),
 * dumps it --rounds times each way, alternating so caches favour neither, and drops the database and
 * every artifact at the end (also on failure or Ctrl-C). Without --jobs: custom format (-Fc), as the
 * bot does when the target sets no `backups.jobs`; with --jobs=N: directory format with -j N.
 * The goal is the bot at ≥ 0.95× bare pg_dump throughput. Not a test: it prints, it does not assert.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { manifestName, parseManifest } from '../src/providers/manifest.js';
import { SelfHostedProvider } from '../src/providers/self-hosted.js';
import { DirectoryStore } from '../src/providers/store-dir.js';
import { pgToolEnv } from '../src/providers/pg-tools.js';

const arg = (name: string, dflt: number | undefined): number | undefined => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (!hit) return dflt;
  const v = Number(hit.split('=')[1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const MB = arg('mb', 100)!;
const JOBS = arg('jobs', undefined);
const ROUNDS = arg('rounds', 3)!;
const ADMIN_URL = process.env.BENCH_PG_URL ?? process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Four tables so `-j N` has work to spread (pg_dump parallelises per table). */
const TABLES = Math.max(4, JOBS ?? 0);

const isExecutable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The pg_dump both sides use: `pg_config --bindir` first (it names the server's own version), then
 * PATH. Its directory is put first on PATH so the provider, which spawns `pg_dump` by name, runs the
 * very same binary as the bare side.
 */
function findPgDump(): string {
  try {
    const bindir = execFileSync('pg_config', ['--bindir'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString().trim();
    if (isExecutable(join(bindir, 'pg_dump'))) {
      process.env.PATH = `${bindir}${delimiter}${process.env.PATH ?? ''}`;
      return join(bindir, 'pg_dump');
    }
  } catch {
    /* no pg_config: PATH below */
  }
  const onPath = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'pg_dump')).find((p) => p && isExecutable(p));
  if (onPath) return onPath;
  throw new Error('cannot find pg_dump: neither `pg_config --bindir` nor PATH has it. Install the PostgreSQL client package.');
}

const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

async function query(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

const dbSize = async (url: string) => Number((await query(url, 'SELECT pg_database_size(current_database())::float8 AS s')).rows[0].s);
const mib = (b: number) => b / 1048576;

/**
 * Rows of mixed data (numbers, timestamps, md5 text): compressible about like real tables, so the
 * compression pg_dump does is neither free nor pathological. Batches until the database has --mb.
 */
async function generate(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (let t = 0; t < TABLES; t++) {
      await c.query(`CREATE TABLE bench_${t} (id bigint PRIMARY KEY, customer int, amount numeric(12,2), created timestamptz, note text) WITH (autovacuum_enabled = false)`);
    }
    const batch = 100_000;
    let next = 1;
    for (;;) {
      for (let t = 0; t < TABLES; t++) {
        await c.query(
          `INSERT INTO bench_${t} SELECT g, (g * 7919) % 100000, (g % 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1 second',
                  md5(g::text) || ' ' || md5((g + $3)::text) FROM generate_series($1::bigint, $2::bigint) g`,
          [next, next + batch - 1, t],
        );
      }
      next += batch;
      const size = await dbSize(url);
      process.stdout.write(`\r  generating: ${mib(size).toFixed(0)} of ${MB} MiB`);
      if (mib(size) >= MB) {
        process.stdout.write('\n');
        await c.query('VACUUM ANALYZE'); // hint bits set and stats fresh: no round pays for the first read
        return size;
      }
    }
  } finally {
    await c.end();
  }
}

/**
 * Written the way the bot's pg_dump writes: custom format to stdout (`pg_dump -Fc > file`; with
 * --file pg_dump would also fsync, which the streamed path does not), directory format with --file.
 */
async function bare(pgDump: string, url: string, out: string): Promise<void> {
  const { dbname, env } = pgToolEnv(url);
  const args = JOBS ? ['-Fd', `--jobs=${JOBS}`, `--file=${out}`] : ['-Fc'];
  const file = JOBS ? undefined : createWriteStream(out);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(pgDump, [...args, `--dbname=${dbname}`], { env, stdio: ['ignore', file ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', reject);
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const written = file ? pipeline(child.stdout!, file) : Promise.resolve();
    Promise.all([exited, written]).then(([code]) => (code === 0 ? resolve() : reject(new Error(`bare pg_dump exited ${code}: ${err}`))), reject);
  });
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const pgDump = findPgDump();
  const db = `dbops_bench_dump_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'dbops-bench-dump-'));
  const url = withDb(ADMIN_URL, db);
  let created = false;
  const cleanup = async () => {
    rmSync(dir, { recursive: true, force: true });
    if (created) {
      await query(ADMIN_URL, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]).catch(() => undefined);
      await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${db}"`).catch((e: Error) => console.error(`could not drop ${db}: ${e.message}; drop it by hand`));
    }
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const version = execFileSync(pgDump, ['--version']).toString().trim();
    console.log(`dump bench: ${version} (${pgDump}); ${JOBS ? `directory format, -j ${JOBS}` : 'custom format'}; ${ROUNDS} rounds each way`);
    await query(ADMIN_URL, `CREATE DATABASE "${db}"`);
    created = true;
    const size = await generate(url);
    console.log(`  database ${db}: ${mib(size).toFixed(1)} MiB in ${TABLES} tables`);

    const store = new DirectoryStore(join(dir, 'store'));
    const provider = new SelfHostedProvider({ target: 'bench', url, backups: { store: join(dir, 'store'), ...(JOBS ? { jobs: JOBS } : {}) }, store });
    const botTimes: number[] = [];
    const bareTimes: number[] = [];
    let artifactBytes = 0;
    let tablesCounted = 0;
    // Unmeasured warm-up of each side, then alternate (bot first, bare first, …) so neither always runs on a warmer cache.
    for (let r = -1; r < ROUNDS; r++) {
      const sides = r % 2 === 0 ? (['bot', 'bare'] as const) : (['bare', 'bot'] as const);
      for (const side of sides) {
        if (side === 'bot') {
          const id = `dbops-bench-${r + 1}-${randomBytes(3).toString('hex')}`;
          const t0 = process.hrtime.bigint();
          await provider.startSnapshot(id);
          const t = seconds(t0);
          const m = parseManifest((await store.readText(manifestName(id)))!)!;
          artifactBytes = m.digest.sizeBytes;
          tablesCounted = m.tables.length;
          await store.remove(m.artifact);
          await store.remove(manifestName(id));
          if (r >= 0) botTimes.push(t);
        } else {
          const out = join(dir, `bare-${r + 1}${JOBS ? '.dir' : '.dump'}`);
          const t0 = process.hrtime.bigint();
          await bare(pgDump, url, out);
          const t = seconds(t0);
          rmSync(out, { recursive: true, force: true });
          if (r >= 0) bareTimes.push(t);
        }
      }
      if (r >= 0) console.log(`  round ${r + 1}: bot ${botTimes.at(-1)!.toFixed(2)} s, bare ${bareTimes.at(-1)!.toFixed(2)} s`);
    }

    const botS = median(botTimes);
    const bareS = median(bareTimes);
    const ratio = bareS / botS; // bot throughput as a fraction of bare throughput
    const row = (name: string, s: number) => `  ${name.padEnd(34)} ${s.toFixed(2).padStart(8)} s ${(mib(size) / s).toFixed(1).padStart(8)} MiB/s`;
    console.log('');
    console.log(`  ${'median of rounds'.padEnd(34)} ${'time'.padStart(10)} ${'throughput'.padStart(14)}`);
    console.log(row(`bot (dump + manifest, ${tablesCounted} counts)`, botS));
    console.log(row('bare pg_dump', bareS));
    console.log(`  artifact ${mib(artifactBytes).toFixed(1)} MiB; bot throughput = ${ratio.toFixed(3)}× bare (goal ≥ 0.95×): ${ratio >= 0.95 ? 'met' : 'NOT met'}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`dump bench failed: ${(err as Error).message}`);
  process.exitCode = 1;
});
