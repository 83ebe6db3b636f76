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
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { manifestName, parseManifest } from '../src/providers/manifest.js';
import { ADMIN_URL, findPgTool, generate, intArg, median, mib, query, seconds, withDb } from './pg-bench.js';
import { SelfHostedProvider } from '../src/providers/self-hosted.js';
import { DirectoryStore } from '../src/providers/store-dir.js';
import { pgToolEnv } from '../src/providers/pg-tools.js';

const MB = intArg('mb', 100);
const JOBS = intArg('jobs', undefined);
const ROUNDS = intArg('rounds', 3);
/** Four tables so `-j N` has work to spread (pg_dump parallelises per table). */
const TABLES = Math.max(4, JOBS ?? 0);

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

async function main(): Promise<void> {
  const pgDump = findPgTool('pg_dump');
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
    const size = await generate(url, { tables: TABLES, mb: MB, tableOptions: 'WITH (autovacuum_enabled = false)' });
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
