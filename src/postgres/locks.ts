import type pg from 'pg';
import { LOCK_EDGES_CTE, secondsSince, truncatedQuery } from './sql.js';

export interface LockWait {
  /** pg_locks.locktype of the ungranted lock: relation, tuple, transactionid, … */
  lockType: string;
  /** lock mode waited for, e.g. AccessExclusiveLock */
  mode: string;
  /** "schema"."table" when the lock is on a relation of this database */
  relation: string | null;
  /** since pg_locks.waitstart (PG14+), else since the state change */
  waitSeconds: number | null;
}

export interface LockNode {
  pid: number;
  user: string | null;
  app: string | null;
  state: string | null;
  /** pg_stat_activity.backend_type: only client backends can be cancelled or killed by dbops */
  backendType: string | null;
  isSuperuser: boolean;
  query: string | null;
  xactSeconds: number | null;
  querySeconds: number | null;
  /** what this session waits for; null for a root blocker */
  waitingFor: LockWait | null;
  /** direct blockers (a session may wait on several, so it can appear under more than one parent) */
  blockedBy: number[];
  /** sessions waiting directly on this one */
  blocks: LockNode[];
}

interface Row {
  pid: number; user: string | null; app: string | null; state: string | null; query: string | null;
  backend_type: string | null; is_superuser: boolean | null;
  xact_seconds: number | null; query_seconds: number | null; blocked_by: number[] | null;
  lock_type: string | null; mode: string | null; relation: string | null; wait_seconds: number | null;
}

const SQL = `
WITH ${LOCK_EDGES_CTE}, involved AS (
  SELECT blocked AS pid FROM edges UNION SELECT blocker FROM edges
), ungranted AS MATERIALIZED (
  SELECT DISTINCT ON (pid) pid, locktype, mode, relation, database,
         (to_jsonb(l) ->> 'waitstart')::timestamptz AS waitstart   -- column exists from PG14 on
    FROM pg_locks l WHERE NOT granted AND pid IN (SELECT blocked FROM edges)
   ORDER BY pid
)
SELECT i.pid, a.usename AS "user", a.application_name AS app, a.state, ${truncatedQuery('a.query')} AS query,
       a.backend_type, ro.rolsuper AS is_superuser,
       ${secondsSince('a.xact_start')} AS xact_seconds, ${secondsSince('a.query_start')} AS query_seconds,
       (SELECT array_agg(e.blocker ORDER BY e.blocker) FROM edges e WHERE e.blocked = i.pid) AS blocked_by,
       u.locktype AS lock_type, u.mode,
       CASE WHEN c.oid IS NOT NULL THEN format('%I.%I', n.nspname, c.relname) END AS relation,
       ${secondsSince('coalesce(u.waitstart, a.state_change)')} AS wait_seconds
  FROM involved i
  LEFT JOIN pg_stat_activity a ON a.pid = i.pid
  LEFT JOIN pg_roles ro ON ro.oid = a.usesysid
  LEFT JOIN ungranted u ON u.pid = i.pid
  LEFT JOIN pg_class c ON c.oid = u.relation
        AND u.database IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`;

/**
 * Current lock chains as trees, root blockers first (most sessions held up, then oldest transaction).
 * Runs in its own read-only transaction with a 2 s statement_timeout: pg_blocking_pids is expensive
 * on busy servers and a lock report must not become load. A deadlock cycle has no root and is not
 * shown; the server breaks it within deadlock_timeout anyway.
 */
export async function blockingChains(client: pg.Client): Promise<LockNode[]> {
  await client.query('BEGIN READ ONLY');
  let rows: Row[];
  try {
    await client.query(`SET LOCAL statement_timeout = '2s'`);
    rows = (await client.query<Row>(SQL)).rows;
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return buildTrees(rows);
}

function buildTrees(rows: Row[]): LockNode[] {
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const childrenOf = new Map<number, number[]>();
  for (const r of rows) {
    for (const b of r.blocked_by ?? []) childrenOf.set(b, [...(childrenOf.get(b) ?? []), r.pid]);
  }
  const build = (pid: number, path: Set<number>): LockNode => {
    const r = byPid.get(pid)!;
    const next = new Set(path).add(pid);
    return {
      pid,
      user: r.user,
      app: r.app,
      state: r.state,
      backendType: r.backend_type,
      isSuperuser: r.is_superuser === true,
      query: r.query,
      xactSeconds: r.xact_seconds,
      querySeconds: r.query_seconds,
      waitingFor: r.mode === null || r.lock_type === null ? null
        : { lockType: r.lock_type, mode: r.mode, relation: r.relation, waitSeconds: r.wait_seconds },
      blockedBy: r.blocked_by ?? [],
      // path guard: a cycle (deadlock in the making) must not recurse forever
      blocks: (childrenOf.get(pid) ?? []).filter((c) => !next.has(c)).sort((a, b) => a - b).map((c) => build(c, next)),
    };
  };
  const size = (n: LockNode): number => n.blocks.reduce((s, c) => s + 1 + size(c), 0);
  return rows
    .filter((r) => (r.blocked_by ?? []).length === 0)
    .map((r) => build(r.pid, new Set()))
    .sort((a, b) => size(b) - size(a) || (b.xactSeconds ?? 0) - (a.xactSeconds ?? 0) || a.pid - b.pid);
}
