import type pg from 'pg';
import { sqlState } from './sql.js';

/** Where pg_stat_statements stands on a target: usable, or the one thing that is missing. */
export type StatementsAvailability =
  | { state: 'ready'; schema: string; version: string }
  /** The contrib package is not installed on the server at all. */
  | { state: 'not-available' }
  /** Not in shared_preload_libraries (or we cannot tell: `preloaded` null) and/or no CREATE EXTENSION in this database. */
  | { state: 'missing'; preloaded: boolean | null; created: boolean };

export type StatementOrder = 'mean' | 'total' | 'calls';

export interface StatementRow {
  queryId: string | null;
  /** Normalised text, truncated; null when the bot lacks pg_read_all_stats for another role's query. */
  query: string | null;
  user: string | null;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  /** shared_blks_hit / (hit + read) × 100, one decimal; null when the statement touched no shared blocks. */
  hitPercent: number | null;
}

export interface TopStatements {
  order: StatementOrder;
  /** total execution time of all statements of this database, ms (for each statement's share) */
  databaseTotalMs: number;
  statements: StatementRow[];
}

/** Statement text shown in Slack is cut here, so a run's recorded output stays small. */
const QUERY_CHARS = 300;

/**
 * Whether the extension can be queried in this database. shared_preload_libraries is readable with
 * pg_read_all_settings (part of pg_monitor); pg_settings hides the row otherwise, so `preloaded` is
 * then unknown and only the query itself can tell.
 */
export async function statementsAvailability(c: pg.Client): Promise<StatementsAvailability> {
  const r = await c.query<{ schema: string | null; version: string | null; available: boolean; libs: string | null }>(
    `SELECT n.nspname AS schema, e.extversion AS version,
            EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available,
            (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS libs
       FROM (SELECT 1) one
       LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
       LEFT JOIN pg_namespace n ON n.oid = e.extnamespace`,
  );
  const row = r.rows[0]!;
  const preloaded = row.libs === null ? null : row.libs.split(',').map((s) => s.trim().replace(/^"|"$/g, '')).some((l) => l === 'pg_stat_statements' || l.endsWith('/pg_stat_statements'));
  if (!row.schema) return row.available ? { state: 'missing', preloaded, created: false } : { state: 'not-available' };
  if (preloaded === false) return { state: 'missing', preloaded, created: true };
  return { state: 'ready', schema: row.schema, version: row.version ?? '?' };
}

/**
 * The top statements of this database. pg_stat_statements 1.8 (PG13) renamed total_time/mean_time
 * to total_exec_time/mean_exec_time; the view's own columns decide which we read. Returns
 * `not-preloaded` when the extension exists but the library is not loaded (SQLSTATE 55000).
 */
export async function topStatements(c: pg.Client, schema: string, order: StatementOrder, limit: number): Promise<TopStatements | 'not-preloaded'> {
  const view = `${c.escapeIdentifier(schema)}.pg_stat_statements`;
  const cols = await c.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname IN ('total_exec_time', 'total_time')`,
    [view],
  );
  const pg13 = cols.rows.some((r) => r.attname === 'total_exec_time');
  const total = pg13 ? 'total_exec_time' : 'total_time';
  const mean = pg13 ? 'mean_exec_time' : 'mean_time';
  // Only these fixed column names are interpolated; the limit is a bound parameter.
  const orderBy = order === 'calls' ? 'calls' : order === 'total' ? total : mean;
  try {
    const r = await c.query<StatementRow & { dbTotal: number }>(
      `SELECT s.queryid::text AS "queryId", left(s.query, ${QUERY_CHARS}) AS query, r.rolname AS "user",
              s.calls::float8 AS calls, s.${total}::float8 AS "totalMs", s.${mean}::float8 AS "meanMs", s.rows::float8 AS rows,
              round(s.shared_blks_hit * 100.0 / nullif(s.shared_blks_hit + s.shared_blks_read, 0), 1)::float8 AS "hitPercent",
              sum(s.${total}) OVER ()::float8 AS "dbTotal"
         FROM ${view} s
         LEFT JOIN pg_roles r ON r.oid = s.userid
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY s.${orderBy} DESC NULLS LAST, s.queryid
        LIMIT $1`,
      [limit],
    );
    return {
      order,
      databaseTotalMs: r.rows[0]?.dbTotal ?? 0,
      statements: r.rows.map(({ dbTotal: _, ...s }) => s),
    };
  } catch (err) {
    if (sqlState(err) === '55000') return 'not-preloaded';
    throw err;
  }
}
