import type pg from 'pg';
import { isoText } from './sql.js';

export interface UnusedIndex {
  schema: string;
  table: string;
  name: string;
  bytes: number;
  definition: string;
}

export interface DuplicateSet {
  schema: string;
  table: string;
  /** Same table, access method, columns, operator classes, collations, expressions and predicate. Constraint-backing ones first: keep those. */
  indexes: Array<{ name: string; bytes: number; unique: boolean; primary: boolean; constraint: boolean; scans: number; definition: string }>;
}

export interface MissingIndexCandidate {
  schema: string;
  table: string;
  seqScans: number;
  seqRowsRead: number;
  idxScans: number;
  /** the planner's estimate (reltuples) once analyzed or vacuumed, else n_live_tup (a running count that drifts) */
  liveRows: number;
  bytes: number;
}

// pg_toast and the catalogs are the server's business.
const USER_SCHEMAS = (col: string) => `${col} NOT IN ('pg_catalog', 'information_schema') AND ${col} !~ '^pg_toast'`;

/** The statistics behind idx_scan/seq_scan count from this time (null: never reset on this server). */
export async function statsSince(c: pg.Client): Promise<string | null> {
  const r = await c.query<{ t: string | null }>(`SELECT ${isoText('stats_reset')} AS t FROM pg_stat_database WHERE datname = current_database()`);
  return r.rows[0]?.t ?? null;
}

/**
 * Indexes never scanned since the statistics began, largest first. Unique, primary-key and exclusion
 * indexes and any index backing a constraint are left out: they enforce something even unscanned.
 */
export async function unusedIndexes(c: pg.Client, limit = 15): Promise<UnusedIndex[]> {
  const r = await c.query<UnusedIndex>(
    `SELECT s.schemaname AS schema, s.relname AS "table", s.indexrelname AS name,
            pg_relation_size(s.indexrelid)::float8 AS bytes, pg_get_indexdef(s.indexrelid) AS definition
       FROM pg_stat_user_indexes s
       JOIN pg_index i ON i.indexrelid = s.indexrelid
      WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        AND ${USER_SCHEMAS('s.schemaname')}
      ORDER BY pg_relation_size(s.indexrelid) DESC, s.schemaname, s.indexrelname
      LIMIT $1`,
    [limit],
  );
  return r.rows;
}

/**
 * Sets of indexes that are the same index twice: same table and access method, same key and INCLUDE
 * columns in the same order with the same operator classes, collations and sort options, same
 * expressions and predicate. Uniqueness is not compared: a plain index equal to a unique one is redundant.
 */
export async function duplicateIndexes(c: pg.Client, limit = 10): Promise<DuplicateSet[]> {
  const r = await c.query<DuplicateSet>(
    `SELECT ns.nspname AS schema, ct.relname AS "table",
            json_agg(json_build_object(
              'name', ci.relname, 'bytes', pg_relation_size(ci.oid)::float8, 'unique', i.indisunique, 'primary', i.indisprimary,
              'constraint', EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid),
              'scans', coalesce(st.idx_scan, 0)::float8, 'definition', pg_get_indexdef(ci.oid))
              ORDER BY i.indisprimary DESC, i.indisunique DESC, EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) DESC, ci.relname) AS indexes
       FROM pg_index i
       JOIN pg_class ci ON ci.oid = i.indexrelid
       JOIN pg_class ct ON ct.oid = i.indrelid
       JOIN pg_namespace ns ON ns.oid = ct.relnamespace
       LEFT JOIN pg_stat_user_indexes st ON st.indexrelid = i.indexrelid
      WHERE ${USER_SCHEMAS('ns.nspname')}
      GROUP BY ns.nspname, ct.relname, i.indrelid, ci.relam, i.indnkeyatts, i.indkey::text, i.indclass::text, i.indcollation::text, i.indoption::text,
               coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '')
     HAVING count(*) > 1
      ORDER BY sum(pg_relation_size(ci.oid)) DESC, ns.nspname, ct.relname
      LIMIT $1`,
    [limit],
  );
  return r.rows;
}

/** What makes a table a missing-index candidate: read sequentially often, big enough to matter. */
export const MISSING_INDEX_RULE = { minSeqScans: 50, minRows: 10_000 } as const;

/**
 * Tables read mostly by sequential scans (the seeds' "missing indexes" query): at least
 * `minSeqScans` sequential scans, more than index scans, and at least `minRows` rows; those
 * that read the most rows sequentially first. Which query needs the index is for /db slow and EXPLAIN.
 */
export async function missingIndexCandidates(c: pg.Client, limit = 10, rule = MISSING_INDEX_RULE): Promise<MissingIndexCandidate[]> {
  const r = await c.query<MissingIndexCandidate>(
    `SELECT schemaname AS schema, relname AS "table", seq_scan::float8 AS "seqScans", seq_tup_read::float8 AS "seqRowsRead",
            coalesce(idx_scan, 0)::float8 AS "idxScans", rows::float8 AS "liveRows", pg_relation_size(relid)::float8 AS bytes
       FROM (SELECT s.*, CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE s.n_live_tup END AS rows
               FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid) s
      WHERE seq_scan >= $2 AND seq_scan > coalesce(idx_scan, 0) AND rows >= $3 AND ${USER_SCHEMAS('schemaname')}
      ORDER BY seq_tup_read DESC, schemaname, relname
      LIMIT $1`,
    [limit, rule.minSeqScans, rule.minRows],
  );
  return r.rows;
}
