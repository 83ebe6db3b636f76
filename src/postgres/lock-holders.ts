import type pg from 'pg';
import { secondsSince } from './sql.js';

/** A session that holds (or queues ahead for) a lock on a relation that conflicts with the mode we want. */
export interface LockHolder {
  pid: number;
  app: string | null;
  user: string | null;
  state: string | null;
  backendType: string | null;
  isSuperuser: boolean;
  /** the strongest conflicting mode it holds or waits for */
  mode: string;
  granted: boolean;
  /** how long its transaction has been open (else its query, else its state) */
  heldSeconds: number | null;
}

/** PostgreSQL's table-lock conflict matrix (docs: "Conflicting Lock Modes"). */
const CONFLICTS: Record<string, readonly string[]> = {
  AccessShareLock: ['AccessExclusiveLock'],
  RowShareLock: ['ExclusiveLock', 'AccessExclusiveLock'],
  RowExclusiveLock: ['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  ShareUpdateExclusiveLock: ['ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  ShareLock: ['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  ShareRowExclusiveLock: ['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  ExclusiveLock: ['RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  AccessExclusiveLock: ['AccessShareLock', 'RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
};
const STRENGTH = Object.keys(CONFLICTS);

export function conflictingModes(wanted: string): readonly string[] {
  return CONFLICTS[wanted] ?? STRENGTH;
}

/**
 * Who stands between us and `wanted` on a table (and its partitions), read right after a lock_timeout:
 * holders of a conflicting mode, and sessions queued ahead for one (the lock queue is fair, so a
 * waiter ahead of us blocks us too). The caller's own backend is left out.
 */
export async function relationLockHolders(client: pg.Client, oid: number, wanted: string): Promise<LockHolder[]> {
  const r = await client.query<{
    pid: number; app: string | null; user: string | null; state: string | null; backend_type: string | null;
    is_superuser: boolean; modes: string[]; granted: boolean; held_seconds: number | null;
  }>(
    `WITH rels AS (SELECT $1::oid AS relid UNION SELECT relid FROM pg_partition_tree($1::regclass))
     SELECT l.pid, a.application_name AS app, a.usename AS user, a.state, a.backend_type,
            coalesce(r.rolsuper, false) AS is_superuser, array_agg(DISTINCT l.mode) AS modes, bool_or(l.granted) AS granted,
            ${secondsSince('coalesce(a.xact_start, a.query_start, a.state_change)')} AS held_seconds
       FROM pg_locks l
       JOIN pg_stat_activity a ON a.pid = l.pid
       LEFT JOIN pg_roles r ON r.oid = a.usesysid
      WHERE l.locktype = 'relation' AND l.relation IN (SELECT relid FROM rels)
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.mode = ANY($2::text[]) AND l.pid <> pg_backend_pid()
      GROUP BY l.pid, a.application_name, a.usename, a.state, a.backend_type, r.rolsuper, a.xact_start, a.query_start, a.state_change
      ORDER BY bool_or(l.granted) DESC, coalesce(a.xact_start, a.query_start, a.state_change) NULLS LAST, l.pid
      LIMIT 20`,
    [oid, conflictingModes(wanted)],
  );
  return r.rows.map((x) => ({
    pid: x.pid, app: x.app, user: x.user, state: x.state, backendType: x.backend_type, isSuperuser: x.is_superuser,
    mode: [...x.modes].sort((p, q) => STRENGTH.indexOf(q) - STRENGTH.indexOf(p))[0]!,
    granted: x.granted, heldSeconds: x.held_seconds,
  }));
}
