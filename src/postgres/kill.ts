import type pg from 'pg';
import { DbopsError } from '../errors.js';
import { BOT_APPLICATION_NAME } from './session.js';
import { serverVersionNum } from './version.js';

export type SignalMode = 'cancel' | 'terminate';

/** One session as approved: the identity captured at plan time. */
export interface ApprovedSession {
  pid: number;
  /** exactly as listSessions returned it (ISO UTC, microseconds) */
  backendStart: string;
  /** required for cancel: the approved query must still be the one running */
  queryStart?: string | null;
}

export type SignalOutcome = 'terminated' | 'cancelled' | 'already_gone' | 'refused';

export interface SignalResult {
  pid: number;
  outcome: SignalOutcome;
  reason?: string;
  /** terminate only: true when the server saw the process exit within the wait (PG14+ with timeoutMs) */
  confirmed?: boolean;
}

export interface SignalOptions {
  /**
   * PG14+, terminate only: total ms to wait for sessions to exit, via pg_terminate_backend(pid, timeout).
   * The server polls each pid every 100 ms, so waiting costs ≥100 ms per session and delays the signals
   * after it: rows wait while at least 150 ms of the budget is left (the budget is capped at half the
   * session's statement_timeout, so the report is never lost to a timeout); the rest are signalled
   * without waiting (confirmed: false). Default 0: signal all at once, confirm by polling
   * pg_stat_activity (what bench/kill.ts measures).
   */
  timeoutMs?: number;
}

/** res = [ms waited for, 1 if the signal function returned true] for signalled rows */
interface Row { pid: number; verdict: string; res: [number, number] | null }

/**
 * Signals exactly the approved sessions in ONE statement. A row is signalled only if its pid still
 * belongs to the same client backend (pid + backend_start; for cancel also query_start and
 * state = 'active'); anything else is 'already_gone' — a reused pid is a stranger and is never touched.
 * The bot's own backend, other 'dbops' sessions and sessions the bot lacks the privilege to signal
 * are 'refused' *before* calling the signal function, because its permission ERROR would abort the
 * whole statement after earlier rows were already signalled.
 */
export async function signalSessions(
  client: pg.Client,
  mode: SignalMode,
  approved: ApprovedSession[],
  opts: SignalOptions = {},
): Promise<SignalResult[]> {
  const seen = new Set<number>();
  const list = approved.filter((a) => !seen.has(a.pid) && seen.add(a.pid));
  for (const a of list) {
    if (!Number.isInteger(a.pid) || a.pid <= 0 || typeof a.backendStart !== 'string' || a.backendStart === '') {
      throw new DbopsError('bad_input', `Approved session ${String(a.pid)} lacks a valid pid/backend_start; nothing was signalled.`);
    }
    if (mode === 'cancel' && !a.queryStart) {
      throw new DbopsError('bad_input', `Cancelling pid ${a.pid} needs the approved query's start time; nothing was signalled.`);
    }
  }
  if (list.length === 0) return [];

  const waitMs = Math.max(0, Math.floor(opts.timeoutMs ?? 0));
  const canWait = mode === 'terminate' && waitMs > 0 && (await serverVersionNum(client)) >= 140000;
  const signal =
    mode === 'cancel' ? 'pg_cancel_backend(q.live)'
    : canWait ? 'pg_terminate_backend(q.live, q.w)'
    : 'pg_terminate_backend(q.live)';
  // Remaining budget in ms: clock_timestamp() is volatile, and the sub-select holding it is correlated
  // (it carries v.live), so it is re-read for every row rather than computed once for the statement.
  const remExpr = canWait
    ? `((SELECT budget FROM budget) - floor(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000))::bigint`
    : '0::bigint';
  const cancelCheck = mode === 'cancel'
    ? `WHEN c.state IS DISTINCT FROM 'active' OR c.live_qs IS DISTINCT FROM c.query_start
         THEN 'gone:the approved query is no longer running in this session'`
    : '';

  // Array casts happen once, before any row is produced: a malformed timestamp fails before any signal.
  const sql = `
WITH approved AS (
  SELECT * FROM unnest($1::int[], $2::text[]::timestamptz[], $3::text[]::timestamptz[])
    WITH ORDINALITY AS t(pid, backend_start, query_start, ord)
), budget AS (
  SELECT CASE WHEN st = 0 THEN $4::float8 ELSE least($4::float8, st / 2) END AS budget
    FROM (SELECT extract(epoch FROM current_setting('statement_timeout')::interval) * 1000 AS st) s
), me AS (
  SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user
), c AS (
  SELECT ap.ord, ap.pid, ap.backend_start, ap.query_start, a.pid AS live, a.backend_start AS live_bs,
         a.backend_type, a.application_name AS app, a.state, a.query_start AS live_qs, r.oid AS role_oid, r.rolsuper
    FROM approved ap
    LEFT JOIN pg_stat_activity a ON a.pid = ap.pid
    LEFT JOIN pg_roles r ON r.oid = a.usesysid
), v AS (
  SELECT c.*, CASE
      WHEN c.live = pg_backend_pid() THEN 'refuse:this is the bot''s own session'
      -- without pg_read_all_stats another role's backend_start is NULL: identity unverifiable
      WHEN c.live IS NOT NULL AND c.live_bs IS NULL
        THEN 'refuse:the bot cannot see this session''s details to verify it (grant it pg_monitor or pg_read_all_stats)'
      WHEN c.live IS NULL OR c.live_bs <> c.backend_start OR c.backend_type IS DISTINCT FROM 'client backend'
        THEN 'gone:no session with this pid and backend_start any more (ended, or the pid now belongs to a new session)'
      WHEN c.app = $5 THEN 'refuse:the session belongs to dbops itself'
      ${cancelCheck}
      WHEN c.role_oid IS NULL THEN 'refuse:the session''s role no longer exists'
      WHEN c.rolsuper AND NOT (SELECT su FROM me) THEN 'refuse:superuser session; only a superuser can signal it'
      WHEN NOT (SELECT su FROM me) AND NOT (pg_has_role(c.role_oid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))
        THEN 'refuse:the bot lacks the privilege (grant it pg_signal_backend)'
      ELSE 'go' END AS verdict
    FROM c
)
-- Per approved row that passed every check, a correlated sub-select (re-run for each row, since it
-- references v.live) reads the remaining wait budget once and sends the signal with it.
SELECT v.pid, v.verdict,
       CASE WHEN v.verdict = 'go' THEN (
         SELECT ARRAY[q.w::float8, CASE WHEN ${signal} THEN 1 ELSE 0 END::float8]
           -- the server checks for the exit at 0, 100, 200 … ms and not after its last sleep, so a
           -- wait under ~100 ms cannot confirm anything: with less than 150 ms left, don't wait
           FROM (SELECT CASE WHEN r.rem >= 150 THEN r.rem ELSE 0 END AS w, r.live
                   FROM (SELECT ${remExpr} AS rem, v.live AS live) r) q
       ) END AS res
  FROM v
 ORDER BY v.ord`;

  const r = await client.query<Row>(sql, [
    list.map((a) => a.pid),
    list.map((a) => a.backendStart),
    list.map((a) => a.queryStart ?? null),
    waitMs,
    BOT_APPLICATION_NAME,
  ]);
  return r.rows.map((row) => toResult(mode, row));
}

function toResult(mode: SignalMode, row: Row): SignalResult {
  const { pid, verdict } = row;
  if (verdict.startsWith('gone:')) return { pid, outcome: 'already_gone', reason: verdict.slice(5) };
  if (verdict.startsWith('refuse:')) return { pid, outcome: 'refused', reason: verdict.slice(7) };
  const waited = row.res?.[0] ?? 0;
  if (row.res?.[1] === 1) {
    return mode === 'cancel' ? { pid, outcome: 'cancelled' } : { pid, outcome: 'terminated', confirmed: waited > 0 };
  }
  // false after the pre-checks: the process vanished between snapshot and signal, or (waiting) it was
  // still alive when the wait ran out. Either way it is not confirmed done: a human should look.
  return {
    pid,
    outcome: 'refused',
    reason: waited > 0
      ? `signal sent, but the session had not exited after ${waited} ms; check it again`
      : 'the server did not deliver the signal (the session most likely ended just before)',
    ...(mode === 'terminate' ? { confirmed: false } : {}),
  };
}
