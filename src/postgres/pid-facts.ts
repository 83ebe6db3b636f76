import type pg from 'pg';
import { secondsSince } from './sql.js';

/** What the server says about a pid right now, whatever database or backend type it is. */
export interface PidFacts {
  pid: number;
  /** false: no such process in pg_stat_activity */
  exists: boolean;
  ownBackend: boolean;
  backendType: string | null;
  database: string | null;
  /** the database the bot is connected to (the target's) */
  currentDatabase: string;
  app: string | null;
  user: string | null;
  state: string | null;
  isSuperuser: boolean;
  /** since xact_start for idle in transaction, query_start for active, else state_change */
  stateSeconds: number | null;
}

/**
 * Looks pids up without any of the kill filters, so a refusal can say exactly why each one was not
 * eligible (gone, another database, protected, superuser, not running a query…).
 */
export async function pidFacts(client: pg.Client, pids: number[]): Promise<PidFacts[]> {
  const r = await client.query<PidFacts>(
    `SELECT p.pid, a.pid IS NOT NULL AS exists, p.pid = pg_backend_pid() AS "ownBackend", a.backend_type AS "backendType",
            a.datname AS database, current_database() AS "currentDatabase", a.application_name AS app, a.usename AS user,
            a.state, coalesce(r.rolsuper, false) AS "isSuperuser",
            ${secondsSince(`CASE WHEN a.state = 'active' THEN a.query_start WHEN a.state LIKE 'idle in transaction%' THEN a.xact_start ELSE a.state_change END`)} AS "stateSeconds"
       FROM unnest($1::int[]) WITH ORDINALITY AS p(pid, ord)
       LEFT JOIN pg_stat_activity a ON a.pid = p.pid
       LEFT JOIN pg_roles r ON r.oid = a.usesysid
      ORDER BY p.ord`,
    [pids],
  );
  return r.rows;
}
