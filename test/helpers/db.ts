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
