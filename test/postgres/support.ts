import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { adminQuery } from '../helpers/db.js';

import { eventually as waitFor } from '../helpers/wait.js';

/** Polls until fn returns a truthy value (or throws after timeoutMs). */
export { waitFor };

/** A throwaway LOGIN role (roles are cluster-wide, so the name is random); drop() after the database. */
export async function createTestRole(prefix = 'r', attrs = 'NOSUPERUSER'): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = `dbops_${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE ROLE "${name}" LOGIN ${attrs}`);
  return {
    name,
    drop: async () => {
      await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [name]);
      await adminQuery(`DROP ROLE IF EXISTS "${name}"`);
    },
  };
}

/** A plain client as `user` (trust auth) with an application_name. */
export async function connectAs(url: string, user: string, applicationName: string): Promise<pg.Client> {
  const u = new URL(url);
  u.username = user;
  const c = new pg.Client({ connectionString: u.toString(), application_name: applicationName });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** pid of a client's backend. */
export async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

/** Live pids (among `pids`) as pg_stat_activity sees them now. */
export async function alivePids(pids: number[]): Promise<number[]> {
  const r = await adminQuery('SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[]) ORDER BY pid', [pids]);
  return r.rows.map((x: { pid: number }) => x.pid);
}

/** Waits until each pid is waiting on a heavyweight lock. */
export async function waitUntilLockWaiting(pids: number[]): Promise<void> {
  await waitFor(async () => {
    const r = await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND wait_event_type = 'Lock'`, [pids]);
    return r.rows[0].n === pids.length;
  }, 10_000, `pids ${pids.join(',')} to wait on locks`);
}

/** Ends clients quietly (some were terminated on purpose). */
export async function endAll(clients: Array<pg.Client | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => c?.end().catch(() => undefined)));
}
