// The demo target: a `dbops_demo` database on the local Postgres with a small shop schema whose
// `orders` table carries dead tuples (autovacuum off), so vacuum/analyze/status have work to show.
// Idempotent: every start recreates the churn, so each sandbox session starts from the same state.
import pg from 'pg';

/** application_name of the sandbox's own admin sessions (protected from kill in the targets file). */
export const SANDBOX_APP = 'dbops-sandbox';

/**
 * The role demo sessions log in as: not a superuser, because dbops leaves superuser sessions alone
 * by default (and real applications should not be superusers either).
 */
export const DEMO_ROLE = 'dbops_demo_app';
const DEMO_ROLE_PASSWORD = 'dbops-demo';

/** `demoUrl` logged in as the demo application role. */
export function demoAppUrl(demoUrl: string): string {
  const u = new URL(demoUrl);
  u.username = DEMO_ROLE;
  u.password = DEMO_ROLE_PASSWORD;
  return u.toString();
}

/** The same server as `url`, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: SANDBOX_APP, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface DemoStats {
  rows: number;
  deadTuples: number;
}

/** Creates the database if missing, then (re)builds the schema and the dead tuples. */
export async function ensureDemoDatabase(demoUrl: string, rows = 60_000): Promise<void> {
  const name = databaseName(demoUrl);
  await withClient(withDatabase(demoUrl, 'postgres'), async (admin) => {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return;
    try {
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
    } catch (err) {
      if ((err as { code?: string }).code !== '42P04') throw err; // created meanwhile
    }
  });
  await withClient(demoUrl, async (c) => {
    await c.query("SET lock_timeout = '5s'");
    // Manual VACUUM honours these: throttled so a vacuum of the demo table takes a few seconds
    // and its live progress is visible in the thread.
    await c.query(`ALTER DATABASE ${c.escapeIdentifier(name)} SET vacuum_cost_delay = '5ms'`);
    await c.query(`ALTER DATABASE ${c.escapeIdentifier(name)} SET vacuum_cost_limit = 100`);
    await c.query(SCHEMA);
    await ensureDemoRole(c, name);
    await c.query('TRUNCATE orders, customers RESTART IDENTITY');
    await c.query("INSERT INTO customers (name, email) SELECT 'Customer ' || g, 'customer' || g || '@example.test' FROM generate_series(1, 500) g");
    await c.query(
      `INSERT INTO orders (customer_id, status, total_cents, note)
       SELECT 1 + g % 500, 'new', (g * 37) % 100000, repeat('x', 40) FROM generate_series(1, $1::int) g`,
      [rows],
    );
    // Dead tuples: every third order shipped (an update), every fifth cancelled (a delete).
    await c.query("UPDATE orders SET status = 'shipped' WHERE id % 3 = 0");
    await c.query('DELETE FROM orders WHERE id % 5 = 0');
  });
}

/** Roles are cluster-wide and tests start sandboxes in parallel: creation may race, which is fine. */
async function ensureDemoRole(c: pg.Client, database: string): Promise<void> {
  const role = c.escapeIdentifier(DEMO_ROLE);
  for (let attempt = 0; ; attempt++) {
    try {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [DEMO_ROLE]);
      if (!exists.rowCount) await c.query(`CREATE ROLE ${role} LOGIN PASSWORD ${c.escapeLiteral(DEMO_ROLE_PASSWORD)}`);
      await c.query(`GRANT CONNECT ON DATABASE ${c.escapeIdentifier(database)} TO ${role}`);
      await c.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON orders, customers TO ${role}`);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || (code !== '42710' && code !== '23505' && code !== 'XX000')) throw err;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers (id),
  status text NOT NULL,
  total_cents int NOT NULL,
  note text,
  created_at timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_enabled = false);
ALTER TABLE orders SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
CREATE INDEX IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
`;

/** Drops the demo database (tests); terminates sessions still on it first. */
export async function dropDemoDatabase(demoUrl: string): Promise<void> {
  const name = databaseName(demoUrl);
  await withClient(withDatabase(demoUrl, 'postgres'), async (admin) => {
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)}`);
  });
}
