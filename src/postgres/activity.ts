import type pg from 'pg';
import { isoText, secondsSince, truncatedQuery } from './sql.js';

export interface HealthOptions {
  /** active queries running longer than this are "long running"; default 300 */
  longRunningSeconds?: number;
  /** how many tables (by n_dead_tup) to report; default 10 */
  topTables?: number;
  /** cap on each session list, so a storm of sessions stays a bounded answer; default 50 */
  listLimit?: number;
}

export interface CountBy { key: string; count: number }

export interface LongRunningQuery {
  pid: number; user: string | null; app: string; state: string | null;
  durationSeconds: number; query: string | null; waitEventType: string | null; waitEvent: string | null;
}
export interface IdleInTransaction {
  pid: number; user: string | null; app: string; state: string;
  xactSeconds: number | null; stateSeconds: number | null; query: string | null;
}
export interface BlockerInfo { pid: number; user: string | null; app: string | null; state: string | null; query: string | null }
export interface BlockedQuery {
  pid: number; user: string | null; app: string; query: string | null; durationSeconds: number | null;
  waitEventType: string | null; waitEvent: string | null; blockers: BlockerInfo[];
}
export interface DeadTupleTable {
  schema: string; name: string; nDeadTup: number; nLiveTup: number; deadPercent: number | null;
  lastVacuum: string | null; lastAutovacuum: string | null; lastAnalyze: string | null; lastAutoanalyze: string | null;
}

export interface ConnectionHealth {
  database: { name: string; sizeBytes: number; sizePretty: string };
  connections: {
    /** cluster-wide setting */
    maxConnections: number;
    superuserReservedConnections: number;
    /** client backends in the whole cluster (what max_connections limits), bot excluded */
    clusterTotal: number;
    /** clusterTotal / maxConnections × 100, one decimal */
    percentUsed: number;
    /** client backends connected to this database, bot's own backend excluded */
    databaseTotal: number;
    byState: CountBy[];
    byApplication: CountBy[];
  };
  longRunning: LongRunningQuery[];
  idleInTransaction: IdleInTransaction[];
  blocked: BlockedQuery[];
  topDeadTupleTables: DeadTupleTable[];
}

// Sessions of this database's client backends, minus the bot's own backend. Reused by the reads below.
const OTHERS = `backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid()`;

/**
 * The runbooks' connection-health picture in one call (several autocommit reads on one session).
 * Other roles' state/query are NULL unless the bot has pg_read_all_stats / pg_monitor.
 */
export async function connectionHealth(client: pg.Client, opts: HealthOptions = {}): Promise<ConnectionHealth> {
  const longRunningSeconds = opts.longRunningSeconds ?? 300;
  const topTables = opts.topTables ?? 10;
  const limit = opts.listLimit ?? 50;

  const head = await client.query<{
    name: string; size_bytes: number; size_pretty: string; max_conn: number; reserved: number; cluster_total: number; db_total: number;
  }>(
    `SELECT current_database() AS name,
            pg_database_size(current_database())::float8 AS size_bytes,
            pg_size_pretty(pg_database_size(current_database())) AS size_pretty,
            current_setting('max_connections')::int AS max_conn,
            current_setting('superuser_reserved_connections')::int AS reserved,
            count(*) FILTER (WHERE backend_type = 'client backend')::int AS cluster_total,
            count(*) FILTER (WHERE backend_type = 'client backend' AND datname = current_database())::int AS db_total
       FROM pg_stat_activity WHERE pid <> pg_backend_pid()`,
  );
  const h = head.rows[0]!;

  const groups = await client.query<{ kind: 'state' | 'app'; key: string; count: number }>(
    `SELECT 'state' AS kind, coalesce(state, 'unknown') AS key, count(*)::int AS count FROM pg_stat_activity WHERE ${OTHERS} GROUP BY 2
     UNION ALL
     SELECT 'app', application_name, count(*)::int FROM pg_stat_activity WHERE ${OTHERS} GROUP BY 2
     ORDER BY 1, 3 DESC, 2`,
  );
  const by = (kind: 'state' | 'app') => groups.rows.filter((g) => g.kind === kind).map((g) => ({ key: g.key, count: g.count }));

  const longRunning = await client.query<LongRunningQuery>(
    `SELECT pid, usename AS "user", application_name AS app, state, ${secondsSince('query_start')} AS "durationSeconds",
            ${truncatedQuery('query')} AS query, wait_event_type AS "waitEventType", wait_event AS "waitEvent"
       FROM pg_stat_activity
      WHERE ${OTHERS} AND state = 'active' AND query_start < now() - make_interval(secs => $1)
      ORDER BY query_start LIMIT $2`,
    [longRunningSeconds, limit],
  );

  const idleTx = await client.query<IdleInTransaction>(
    `SELECT pid, usename AS "user", application_name AS app, state,
            ${secondsSince('xact_start')} AS "xactSeconds", ${secondsSince('state_change')} AS "stateSeconds",
            ${truncatedQuery('query')} AS query
       FROM pg_stat_activity
      WHERE ${OTHERS} AND state IN ('idle in transaction', 'idle in transaction (aborted)')
      ORDER BY xact_start NULLS LAST LIMIT $1`,
    [limit],
  );

  const blocked = await blockedQueries(client, limit);

  const tables = await client.query<DeadTupleTable>(
    `SELECT schemaname AS schema, relname AS name, n_dead_tup::float8 AS "nDeadTup", n_live_tup::float8 AS "nLiveTup",
            round(n_dead_tup::numeric * 100 / nullif(n_live_tup + n_dead_tup, 0), 1)::float8 AS "deadPercent",
            ${isoText('last_vacuum')} AS "lastVacuum", ${isoText('last_autovacuum')} AS "lastAutovacuum",
            ${isoText('last_analyze')} AS "lastAnalyze", ${isoText('last_autoanalyze')} AS "lastAutoanalyze"
       FROM pg_stat_user_tables
      ORDER BY n_dead_tup DESC, relname LIMIT $1`,
    [topTables],
  );

  return {
    database: { name: h.name, sizeBytes: h.size_bytes, sizePretty: h.size_pretty },
    connections: {
      maxConnections: h.max_conn,
      superuserReservedConnections: h.reserved,
      clusterTotal: h.cluster_total,
      percentUsed: Math.round((h.cluster_total * 1000) / h.max_conn) / 10,
      databaseTotal: h.db_total,
      byState: by('state'),
      byApplication: by('app'),
    },
    longRunning: longRunning.rows,
    idleInTransaction: idleTx.rows,
    blocked,
    topDeadTupleTables: tables.rows,
  };
}

/**
 * Sessions waiting on a lock and who holds them up. pg_blocking_pids is only called for sessions that
 * wait on a lock (or whose wait is hidden from us), because each call snapshots the lock manager.
 */
async function blockedQueries(client: pg.Client, limit: number): Promise<BlockedQuery[]> {
  const r = await client.query<BlockedQuery>(
    `WITH waiting AS MATERIALIZED (
       SELECT pid, usename, application_name, query, query_start, wait_event_type, wait_event, pg_blocking_pids(pid) AS blockers
         FROM pg_stat_activity
        WHERE ${OTHERS} AND coalesce(wait_event_type, 'Lock') = 'Lock'
     )
     SELECT w.pid, w.usename AS "user", w.application_name AS app, ${truncatedQuery('w.query')} AS query,
            ${secondsSince('w.query_start')} AS "durationSeconds",
            w.wait_event_type AS "waitEventType", w.wait_event AS "waitEvent",
            (SELECT json_agg(json_build_object('pid', b.pid, 'user', a.usename, 'app', a.application_name,
                                               'state', a.state, 'query', ${truncatedQuery('a.query')}) ORDER BY b.pid)
               FROM unnest(w.blockers) AS b(pid) LEFT JOIN pg_stat_activity a ON a.pid = b.pid) AS blockers
       FROM waiting w
      WHERE cardinality(w.blockers) > 0
      ORDER BY w.query_start NULLS LAST LIMIT $1`,
    [limit],
  );
  return r.rows;
}
