import pg from 'pg';
import { DbopsError } from '../errors.js';

export type Pool = pg.Pool;

/** Creates the bot's state database when it does not exist yet (DBOPS_CREATE_DATABASE=true). */
async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  u.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } catch (err) {
    // Two replicas starting at once: the loser sees duplicate_database, which is fine.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await admin.end();
  }
}

export async function openStatePool(url: string, opts: { create: boolean; max?: number }): Promise<Pool> {
  const make = () => {
    const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, connectionTimeoutMillis: 5000, application_name: 'dbops-state' });
    pool.on('error', () => undefined); // idle client errors are retried by the pool on next use
    return pool;
  };
  let pool = make();
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    if ((err as { code?: string }).code === '3D000' && opts.create) {
      await ensureDatabase(url);
      pool = make();
      await pool.query('SELECT 1');
    } else {
      const code = (err as { code?: string }).code;
      throw new DbopsError('config', `DATABASE_URL: cannot connect to the state database (${code ?? (err as Error).message})`, { cause: err });
    }
  }
  return pool;
}

export async function inTransaction<T>(pool: Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
