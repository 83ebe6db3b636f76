/**
 * Restore bench: how fast is the bot's self-hosted restore (CREATE DATABASE + run mark + pg_restore
 * -j N --no-owner --exit-on-error + restored mark, through the provider's `restoreSnapshot`) against
 * a bare `pg_restore` of the same dump with the same -j into a fresh database? Validation (exact row
 * counts of the restored copy, the source's counts, schema versions, columns: what the restore's
 * validate step does, from src/postgres/validation.ts) is timed and printed separately.
 *
 *   npm run build && node dist/bench/restore.js [--mb=100] [--jobs=2] [--rounds=3]
 *
 * It creates a bench-owned source database of at least --mb MiB on the server at BENCH_PG_URL
 * (default TEST_PG_ADMIN_URL, then postgres://postgres@127.0.0.1:5432/postgres; the role needs
 * CREATEDB), dumps it once through the provider (directory format, -j N, like a target with
 * `backups.jobs`), restores it --rounds times each way, alternating so caches favour neither, and
 * drops every database and the dump at the end (also on failure or Ctrl-C). The goal is the bot at
 * ≥ 0.95× bare pg_restore throughput for the restore itself. Not a test: it prints, it does not assert.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestName, parseManifest } from '../src/providers/manifest.js';
import { ADMIN_URL, client, findPgTool, generate, intArg, median, mib, query, seconds, withDb } from './pg-bench.js';
import { pgToolEnv } from '../src/providers/pg-tools.js';
import { SelfHostedProvider } from '../src/providers/self-hosted.js';
import { DirectoryStore } from '../src/providers/store-dir.js';
import { columnsByTable, diffColumns, schemaVersions, tableCounts } from '../src/postgres/validation.js';

const MB = intArg('mb', 100);
const JOBS = intArg('jobs', 2);
const ROUNDS = intArg('rounds', 3);
/** At least four tables so `-j N` has work to spread (pg_restore parallelises per table and index). */
const TABLES = Math.max(4, JOBS);

const dropDb = (db: string) => query(ADMIN_URL, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);

/** The bare side: a fresh database and pg_restore with the bot's own flags (minus --verbose, which only feeds its progress). */
async function bare(pgRestore: string, db: string, artifact: string): Promise<void> {
  await query(ADMIN_URL, `CREATE DATABASE "${db}"`);
  const { dbname, env } = pgToolEnv(withDb(ADMIN_URL, db));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(pgRestore, ['--no-owner', '--exit-on-error', `--jobs=${JOBS}`, artifact, `--dbname=${dbname}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bare pg_restore exited ${code}: ${err}`))));
  });
}

/** What the restore's validate step reads: exact counts, schema versions and columns of both sides. */
async function validate(restoredUrl: string, sourceUrl: string): Promise<{ tables: number; differs: number }> {
  const r = await client(restoredUrl);
  const s = await client(sourceUrl);
  try {
    const [rc, , rcols] = [await tableCounts(r, Number.POSITIVE_INFINITY), await schemaVersions(r), await columnsByTable(r)];
    const [sc, , scols] = [await tableCounts(s), await schemaVersions(s), await columnsByTable(s)];
    const src = new Map(sc.map((t) => [t.table, t.rows]));
    const diff = diffColumns(scols, rcols);
    return { tables: rc.length, differs: rc.filter((t) => src.get(t.table) !== t.rows).length + diff.changed.length + diff.onlyInRestored.length + diff.onlyInSource.length };
  } finally {
    await r.end();
    await s.end();
  }
}

async function main(): Promise<void> {
  findPgTool('pg_dump');
  const pgRestore = findPgTool('pg_restore');
  const tag = randomBytes(4).toString('hex');
  const srcDb = `dbops_bench_rst_${tag}`;
  const botDb = `${srcDb}_bot`;
  const bareDb = `${srcDb}_bare`;
  const dir = mkdtempSync(join(tmpdir(), 'dbops-bench-restore-'));
  const url = withDb(ADMIN_URL, srcDb);
  let created = false;
  const cleanup = async () => {
    for (const db of [botDb, bareDb, ...(created ? [srcDb] : [])]) await dropDb(db).catch((e: Error) => console.error(`could not drop ${db}: ${e.message}; drop it by hand`));
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`restore bench: ${execFileSync(pgRestore, ['--version']).toString().trim()} (${pgRestore}); directory format, -j ${JOBS}; ${ROUNDS} rounds each way`);
    await query(ADMIN_URL, `CREATE DATABASE "${srcDb}"`);
    created = true;
    // A primary key and one more index per table, so the restore builds indexes too.
    const size = await generate(url, { tables: TABLES, mb: MB, afterFill: async (c) => { for (let t = 0; t < TABLES; t++) await c.query(`CREATE INDEX ON bench_${t} (customer)`); } });
    console.log(`  source ${srcDb}: ${mib(size).toFixed(1)} MiB in ${TABLES} tables`);

    const storeDir = join(dir, 'store');
    const store = new DirectoryStore(storeDir);
    const provider = new SelfHostedProvider({ target: 'bench', url, backups: { store: storeDir, jobs: JOBS }, store });
    const id = `dbops-bench-restore-${tag}`;
    const t0 = process.hrtime.bigint();
    await provider.startSnapshot(id);
    const m = parseManifest((await store.readText(manifestName(id)))!)!;
    console.log(`  dump ${m.artifact}: ${mib(m.digest.sizeBytes).toFixed(1)} MiB, ${m.format} format, in ${seconds(t0).toFixed(1)} s (not measured below)`);
    // The same files both sides read: a directory store hands out the artifact in place.
    const copy = await store.fetch(m.artifact);

    const botTimes: number[] = [];
    const bareTimes: number[] = [];
    const validateTimes: number[] = [];
    let checked = { tables: 0, differs: 0 };
    try {
      // Unmeasured warm-up of each side, then alternate (bot first, bare first, …).
      for (let r = -1; r < ROUNDS; r++) {
        const sides = r % 2 === 0 ? (['bot', 'bare'] as const) : (['bare', 'bot'] as const);
        for (const side of sides) {
          if (side === 'bot') {
            const t = process.hrtime.bigint();
            const res = await provider.restoreSnapshot({ snapshotId: id, newName: botDb, owner: `bench-${tag}-${r + 1}` });
            const restoreS = seconds(t);
            if (res.alreadyRestored) throw new Error('the bot restore found an earlier one of its own: the bench would measure nothing');
            const v = process.hrtime.bigint();
            checked = await validate(withDb(ADMIN_URL, botDb), url);
            const validateS = seconds(v);
            await dropDb(botDb);
            if (r >= 0) {
              botTimes.push(restoreS);
              validateTimes.push(validateS);
            }
          } else {
            const t = process.hrtime.bigint();
            await bare(pgRestore, bareDb, copy.path);
            const s = seconds(t);
            await dropDb(bareDb);
            if (r >= 0) bareTimes.push(s);
          }
        }
        if (r >= 0) console.log(`  round ${r + 1}: bot ${botTimes.at(-1)!.toFixed(2)} s (+ validation ${validateTimes.at(-1)!.toFixed(2)} s), bare ${bareTimes.at(-1)!.toFixed(2)} s`);
      }
    } finally {
      await copy.release();
    }

    const botS = median(botTimes);
    const bareS = median(bareTimes);
    const ratio = bareS / botS; // bot throughput as a fraction of bare throughput
    const row = (name: string, s: number) => `  ${name.padEnd(40)} ${s.toFixed(2).padStart(8)} s ${(mib(size) / s).toFixed(1).padStart(8)} MiB/s`;
    console.log('');
    console.log(`  ${'median of rounds'.padEnd(40)} ${'time'.padStart(10)} ${'throughput'.padStart(14)}`);
    console.log(row(`bot restore (restoreSnapshot, -j ${JOBS})`, botS));
    console.log(row(`bare pg_restore (-j ${JOBS})`, bareS));
    console.log(`  validation (separately): ${median(validateTimes).toFixed(2)} s median, ${checked.tables} tables counted exactly, ${checked.differs} difference(s) from the source`);
    console.log(`  bot restore throughput = ${ratio.toFixed(3)}× bare (goal ≥ 0.95×): ${ratio >= 0.95 ? 'met' : 'NOT met'}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`restore bench failed: ${(err as Error).message}`);
  process.exitCode = 1;
});
