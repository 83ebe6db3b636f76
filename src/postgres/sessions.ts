import type pg from 'pg';
import { BOT_APPLICATION_NAME } from './session.js';
import { isoText, LOCK_EDGES_CTE, secondsSince, truncatedQuery } from './sql.js';

export type SessionState = 'active' | 'idle' | 'idle in transaction';

export interface SessionFilter {
  /** 'idle in transaction' also matches 'idle in transaction (aborted)' */
  state?: SessionState;
  /** exact application_name */
  app?: string;
  /** exact role name */
  user?: string;
  /** exact database name; default: the connected database */
  database?: string;
  /** every database in the cluster (ignores `database`) */
  allDatabases?: boolean;
  /** only sessions whose durationSeconds is at least this */
  olderThanSeconds?: number;
  /** superusers' sessions are left out unless true */
  includeSuperusers?: boolean;
  /** application_names never listed (so never offered for killing) */
  protectedApps?: string[];
  /** role names never listed */
  protectedUsers?: string[];
  /** the bot's other sessions (application_name 'dbops') are left out unless true */
  includeBot?: boolean;
}

export interface SessionInfo {
  pid: number;
  /** ISO-8601 UTC, microseconds: pass back unchanged to signalSessions */
  backendStart: string;
  queryStart: string | null;
  xactStart: string | null;
  stateChange: string | null;
  user: string | null;
  app: string;
  /** client address, or 'local' for Unix-socket sessions */
  client: string;
  database: string | null;
  state: string | null;
  waitEvent: string | null;
  waitEventType: string | null;
  /**
   * Seconds in what matters for the state: active → since query_start; idle in transaction →
   * since xact_start; idle and others → since state_change (falls back to backend_start).
   */
  durationSeconds: number | null;
  /** first 500 characters */
  query: string | null;
  isSuperuser: boolean;
}

export interface SessionCounts {
  byState: Array<{ key: string; count: number }>;
  byApp: Array<{ key: string; count: number }>;
  byUser: Array<{ key: string; count: number }>;
  byClient: Array<{ key: string; count: number }>;
}

export interface SessionList { sessions: SessionInfo[]; counts: SessionCounts }

export interface RootBlocker extends SessionInfo {
  /** pids waiting directly on this session */
  blockedPids: number[];
}

const DURATION_FROM = `CASE WHEN a.state = 'active' THEN a.query_start
                            WHEN a.state LIKE 'idle in transaction%' THEN a.xact_start
                            ELSE coalesce(a.state_change, a.backend_start) END`;

const COLUMNS = `a.pid, ${isoText('a.backend_start')} AS "backendStart", ${isoText('a.query_start')} AS "queryStart",
  ${isoText('a.xact_start')} AS "xactStart", ${isoText('a.state_change')} AS "stateChange",
  a.usename AS "user", a.application_name AS app, coalesce(host(a.client_addr), 'local') AS client,
  a.datname AS database, a.state, a.wait_event AS "waitEvent", a.wait_event_type AS "waitEventType",
  ${secondsSince(DURATION_FROM)} AS "durationSeconds", ${truncatedQuery('a.query')} AS query,
  coalesce(r.rolsuper, false) AS "isSuperuser"`;

/** WHERE clause + params for a filter. Every value is a bound parameter. */
function whereOf(filter: SessionFilter, params: unknown[]): string {
  const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
  const conds = [
    `a.backend_type = 'client backend'`,
    // The bot's current session is never a candidate, whatever the filter says.
    `a.pid <> pg_backend_pid()`,
  ];
  if (!filter.allDatabases) conds.push(filter.database === undefined ? `a.datname = current_database()` : `a.datname = ${p(filter.database)}`);
  if (!filter.includeBot) conds.push(`a.application_name IS DISTINCT FROM ${p(BOT_APPLICATION_NAME)}`);
  if (!filter.includeSuperusers) conds.push(`NOT coalesce(r.rolsuper, false)`);
  if (filter.state === 'idle in transaction') conds.push(`a.state LIKE 'idle in transaction%'`);
  else if (filter.state !== undefined) conds.push(`a.state = ${p(filter.state)}`);
  if (filter.app !== undefined) conds.push(`a.application_name = ${p(filter.app)}`);
  if (filter.user !== undefined) conds.push(`a.usename = ${p(filter.user)}`);
  if (filter.olderThanSeconds !== undefined) conds.push(`(${DURATION_FROM}) <= now() - make_interval(secs => ${p(filter.olderThanSeconds)})`);
  if (filter.protectedApps?.length) conds.push(`NOT (coalesce(a.application_name, '') = ANY(${p(filter.protectedApps)}::text[]))`);
  if (filter.protectedUsers?.length) conds.push(`NOT (coalesce(a.usename, '') = ANY(${p(filter.protectedUsers)}::text[]))`);
  return conds.join(' AND ');
}

function countBy(sessions: SessionInfo[], key: (s: SessionInfo) => string | null): Array<{ key: string; count: number }> {
  const m = new Map<string, number>();
  for (const s of sessions) {
    const k = key(s) ?? 'unknown';
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].map(([k, count]) => ({ key: k, count })).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** Client sessions matching filter (oldest first) and their counts by state, app, user and client. */
export async function listSessions(client: pg.Client, filter: SessionFilter = {}): Promise<SessionList> {
  const params: unknown[] = [];
  const r = await client.query<SessionInfo>(
    `SELECT ${COLUMNS}
       FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
      WHERE ${whereOf(filter, params)}
      ORDER BY ${DURATION_FROM} NULLS LAST, a.pid`,
    params,
  );
  const sessions = r.rows;
  return {
    sessions,
    counts: {
      byState: countBy(sessions, (s) => s.state),
      byApp: countBy(sessions, (s) => s.app),
      byUser: countBy(sessions, (s) => s.user),
      byClient: countBy(sessions, (s) => s.client),
    },
  };
}

/**
 * Sessions at the root of current lock chains: they block someone and wait on no one. Same exclusions
 * as listSessions (`state`/`app`/`user`/`olderThanSeconds` may narrow further), so the result is a safe
 * kill-candidate list. pg_blocking_pids runs only for sessions waiting on a lock (or whose wait we
 * cannot see).
 */
export async function rootBlockers(client: pg.Client, filter: SessionFilter = {}): Promise<RootBlocker[]> {
  const params: unknown[] = [];
  const where = whereOf(filter, params);
  const r = await client.query<RootBlocker>(
    `WITH ${LOCK_EDGES_CTE}, roots AS (
       SELECT blocker AS pid, array_agg(DISTINCT blocked ORDER BY blocked) AS blocked_pids FROM edges
        WHERE blocker NOT IN (SELECT blocked FROM edges) GROUP BY blocker
     )
     SELECT ${COLUMNS}, roots.blocked_pids AS "blockedPids"
       FROM roots JOIN pg_stat_activity a ON a.pid = roots.pid LEFT JOIN pg_roles r ON r.oid = a.usesysid
      WHERE ${where}
      ORDER BY cardinality(roots.blocked_pids) DESC, a.xact_start NULLS LAST, a.pid`,
    params,
  );
  return r.rows;
}
