import type pg from 'pg';
import { DbopsError } from '../errors.js';
import { isoText } from './sql.js';

export interface TableStats {
  schema: string;
  name: string;
  nDeadTup: number;
  nLiveTup: number;
  /** ISO-8601 UTC text, or null if never */
  lastVacuum: string | null;
  lastAutovacuum: string | null;
  lastAnalyze: string | null;
  lastAutoanalyze: string | null;
  vacuumCount: number;
  autovacuumCount: number;
  /**
   * Pages of the main fork now, from its size (not pg_class.relpages, an estimate only VACUUM/ANALYZE
   * refresh): so pages and size always tell the same story, before and after.
   */
  relpages: number;
  /** pg_relation_size (main fork) */
  sizeBytes: number;
  sizePretty: string;
}

/**
 * Vacuum-relevant counters of one table. The pg_stat_* counters are maintained asynchronously: in
 * PG15 a backend flushes its pending counts (e.g. dead tuples from its DELETEs) to shared stats at
 * transaction end, at most once a second (or when idle ~10 s later); `pg_stat_force_next_flush()`
 * in *that* backend forces it. VACUUM/ANALYZE report their results directly. Reads are snapshotted
 * per transaction, so call this in autocommit (each call sees fresh values).
 */
export async function tableStats(client: pg.Client, oid: number): Promise<TableStats> {
  const r = await client.query<TableStats>(
    `SELECT n.nspname AS schema, c.relname AS name,
            coalesce(s.n_dead_tup, 0)::float8 AS "nDeadTup", coalesce(s.n_live_tup, 0)::float8 AS "nLiveTup",
            ${isoText('s.last_vacuum')} AS "lastVacuum", ${isoText('s.last_autovacuum')} AS "lastAutovacuum",
            ${isoText('s.last_analyze')} AS "lastAnalyze", ${isoText('s.last_autoanalyze')} AS "lastAutoanalyze",
            coalesce(s.vacuum_count, 0)::float8 AS "vacuumCount", coalesce(s.autovacuum_count, 0)::float8 AS "autovacuumCount",
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 AS relpages,
            pg_relation_size(c.oid)::float8 AS "sizeBytes", pg_size_pretty(pg_relation_size(c.oid)) AS "sizePretty"
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE c.oid = $1`,
    [oid],
  );
  const row = r.rows[0];
  if (!row) throw new DbopsError('not_found', `No table with oid ${oid} in this database any more.`);
  return row;
}
