import pg from 'pg';
import { DbopsError } from '../errors.js';
import { redact } from '../log.js';

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

/**
 * Why a connection failed, as the operator needs it: the server's own words and SQLSTATE ("no
 * PostgreSQL user name specified in startup packet (SQLSTATE 28000)"), or the socket error
 * ("connect ECONNREFUSED 127.0.0.1:1"). Node reports a refused dual-stack connect as an
 * AggregateError with an empty message, so its first error speaks for it.
 */
export function connectFailure(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] };
  const inner = !e?.message && Array.isArray(e?.errors) && e.errors.length ? (e.errors[0] as { message?: string; code?: string }) : undefined;
  const message = e?.message || inner?.message || '';
  const code = e?.code ?? inner?.code;
  const tag = code ? (/^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code) : '';
  // A bare code in parentheses says nothing to a person; the message first, the code after it.
  const text = message ? `${message}${tag && !message.includes(code!) ? ` (${tag})` : ''}` : tag || String(err);
  return redact(text);
}

/** Where the state database is, without credentials: `dbops on 127.0.0.1:5432`. */
function whereIs(url: string): string {
  try {
    const u = new URL(url);
    const name = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    return `${name} on ${u.hostname || 'localhost'}${u.port ? `:${u.port}` : ''}`;
  } catch {
    return '(DATABASE_URL is not a URL)';
  }
}

const cannotConnect = (url: string, err: unknown) => new DbopsError('config', `DATABASE_URL: cannot connect to the state database ${redact(whereIs(url))}: ${connectFailure(err)}`, { cause: err });

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
    if ((err as { code?: string }).code !== '3D000' || !opts.create) throw cannotConnect(url, err);
    try {
      await ensureDatabase(url);
      pool = make();
      await pool.query('SELECT 1');
    } catch (again) {
      await pool.end().catch(() => undefined);
      throw cannotConnect(url, again);
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
