import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Admin connection to the machine's PostgreSQL (trust auth). */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function urlFor(db: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** A fresh database for one test file; `drop()` removes it (terminating leftover sessions). */
export async function createTestDatabase(prefix = 't'): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `dbops_${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
  await adminQuery(`CREATE DATABASE "${name}"`);
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await adminQuery(`DROP DATABASE IF EXISTS "${name}"`);
    },
  };
}

/** Opens a plain client on url (for sessions the test holds open). */
export async function connect(url: string, applicationName = 'test'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: applicationName });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export function redisPrefix(name: string): string {
  return `dbops-test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Slows VACUUM for sessions opened afterwards in one database, so live progress and interruptions can be observed. */
export async function throttleVacuum(dbName: string, delay: string, limit: number): Promise<void> {
  await adminQuery(`ALTER DATABASE "${dbName}" SET vacuum_cost_delay = '${delay}'`);
  await adminQuery(`ALTER DATABASE "${dbName}" SET vacuum_cost_limit = ${Number(limit)}`);
}

/** A table with every other row deleted and autovacuum off: dead tuples that only the bot will remove. */
export async function bloatedTable(url: string, name: string, rows: number, payloadBytes = 100): Promise<void> {
  const c = await connect(url);
  try {
    await c.query(`CREATE TABLE ${name} (id int PRIMARY KEY, payload text) WITH (autovacuum_enabled = false)`);
    await c.query(`INSERT INTO ${name} SELECT g, repeat('x', $2) FROM generate_series(1, $1) g`, [rows, payloadBytes]);
    await c.query(`DELETE FROM ${name} WHERE id % 2 = 0`);
    // Dead-tuple counts reach pg_stat_user_tables asynchronously; push them now.
    await c.query('SELECT pg_stat_force_next_flush()');
  } finally {
    await c.end();
  }
  await new Promise((r) => setTimeout(r, 200));
}
