/**
 * What the dump and restore benchmarks share: their `--name=N` arguments, the PostgreSQL tools they
 * run (found the same way for the bot and the bare side), short-lived connections, and the generated
 * database they measure.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import pg from 'pg';

export const ADMIN_URL = process.env.BENCH_PG_URL ?? process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** `--name=N`, a positive integer, or the default. */
export function intArg(name: string, dflt: number): number;
export function intArg(name: string, dflt: undefined): number | undefined;
export function intArg(name: string, dflt: number | undefined): number | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (!hit) return dflt;
  const v = Number(hit.split('=')[1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}

export const isExecutable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * pg_dump/pg_restore from `pg_config --bindir` first (the server's own version), then PATH; that
 * directory is put first on PATH, so the provider (which spawns the tools by name) runs the very
 * same binaries as the bare side.
 */
export function findPgTool(name: string): string {
  try {
    const bindir = execFileSync('pg_config', ['--bindir'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString().trim();
    if (isExecutable(join(bindir, name))) {
      if (!(process.env.PATH ?? '').startsWith(bindir + delimiter)) process.env.PATH = `${bindir}${delimiter}${process.env.PATH ?? ''}`;
      return join(bindir, name);
    }
  } catch {
    /* no pg_config: PATH below */
  }
  const onPath = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)).find((p) => p && isExecutable(p));
  if (onPath) return onPath;
  throw new Error(`cannot find ${name}: neither \`pg_config --bindir\` nor PATH has it. Install the PostgreSQL client package.`);
}

export const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

export async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

export async function query(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = await client(url);
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

export const dbSize = async (url: string) => Number((await query(url, 'SELECT pg_database_size(current_database())::float8 AS s')).rows[0].s);
export const mib = (b: number) => b / 1048576;
export const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Rows of mixed data (numbers, timestamps, md5 text) in `tables` tables, compressible about like
 * real tables, in batches until the database has `mb` MiB; then `afterFill` (say, more indexes) and
 * VACUUM ANALYZE, so hint bits are set and no round pays for the first read.
 */
export async function generate(url: string, o: { tables: number; mb: number; tableOptions?: string; afterFill?: (c: pg.Client) => Promise<void> }): Promise<number> {
  const c = await client(url);
  try {
    for (let t = 0; t < o.tables; t++) {
      await c.query(`CREATE TABLE bench_${t} (id bigint PRIMARY KEY, customer int, amount numeric(12,2), created timestamptz, note text)${o.tableOptions ? ` ${o.tableOptions}` : ''}`);
    }
    const batch = 100_000;
    let next = 1;
    for (;;) {
      for (let t = 0; t < o.tables; t++) {
        await c.query(
          `INSERT INTO bench_${t} SELECT g, (g * 7919) % 100000, (g % 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1 second',
                  md5(g::text) || ' ' || md5((g + $3)::text) FROM generate_series($1::bigint, $2::bigint) g`,
          [next, next + batch - 1, t],
        );
      }
      next += batch;
      const size = await dbSize(url);
      process.stdout.write(`\r  generating: ${mib(size).toFixed(0)} of ${o.mb} MiB`);
      if (mib(size) >= o.mb) {
        process.stdout.write('\n');
        await o.afterFill?.(c);
        await c.query('VACUUM ANALYZE');
        return size;
      }
    }
  } finally {
    await c.end();
  }
}
