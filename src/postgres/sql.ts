/**
 * Small SQL fragments shared by the target queries. They only ever interpolate *column expressions
 * written in this codebase*, never user input (user values are bound parameters).
 */

/**
 * A timestamptz rendered as ISO-8601 UTC text with full microsecond precision
 * (`2026-11-05T10:00:00.123456Z`). Text, not a JS Date: Date keeps milliseconds only, and the kill
 * guard compares backend_start for exact equality. Independent of the session's DateStyle/TimeZone,
 * and `'…Z'::timestamptz` parses it back exactly.
 */
export const isoText = (col: string): string =>
  `to_char((${col}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Whole-ish seconds elapsed since a timestamptz (null stays null), as float8 so pg returns a number. */
export const secondsSince = (col: string): string =>
  `round(extract(epoch FROM (now() - (${col})))::numeric, 3)::float8`;

/** Queries are shown in Slack; keep them bounded here so callers never ship megabytes of SQL text. */
export const QUERY_TEXT_LIMIT = 500;
export const truncatedQuery = (col: string): string => `left(${col}, ${QUERY_TEXT_LIMIT})`;

/** pg errors carry a SQLSTATE in `code`. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * CTEs `waiting` and `edges` (blocked → blocker) for the current database's lock waits. Only sessions
 * that wait on a lock (or whose wait is hidden from us) pay for pg_blocking_pids, which is expensive.
 */
export const LOCK_EDGES_CTE = `waiting AS MATERIALIZED (
  SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid()
     AND coalesce(wait_event_type, 'Lock') = 'Lock'
), edges AS (
  SELECT w.pid AS blocked, b.pid AS blocker FROM waiting w, unnest(w.blockers) AS b(pid)
)`;
