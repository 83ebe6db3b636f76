import type pg from 'pg';

export interface VacuumProgress {
  /** which progress view the row came from (VACUUM FULL reports through pg_stat_progress_cluster) */
  command: 'VACUUM' | 'VACUUM FULL' | 'CLUSTER' | 'ANALYZE';
  /** e.g. 'scanning heap', 'vacuuming indexes', 'rebuilding index'; null if we may not see it */
  phase: string | null;
  /** "schema"."table" when it runs in the connected database */
  relation: string | null;
  /** for ANALYZE these are sample blocks */
  heapBlksTotal: number | null;
  heapBlksScanned: number | null;
  /** plain VACUUM only */
  heapBlksVacuumed: number | null;
  /** heap blocks scanned / total × 100, one decimal; null when the total is unknown or 0 */
  percent: number | null;
}

const REL = `CASE WHEN p.datname = current_database() THEN p.relid::regclass::text END`;
const PCT = (done: string, total: string) => `round(${done}::numeric * 100 / nullif(${total}, 0), 1)::float8`;

/**
 * Progress of a VACUUM / VACUUM FULL / ANALYZE run by backend `pid`, or null when that backend runs
 * none. Call it from a *second* session (the first is busy running the command) and outside a
 * transaction: progress views are snapshotted once per transaction. Other roles' progress is only
 * visible with pg_read_all_stats / pg_monitor. Column names used here are stable from PG13 to PG17.
 */
export async function vacuumProgress(client: pg.Client, pid: number): Promise<VacuumProgress | null> {
  const r = await client.query<VacuumProgress>(
    `SELECT 'VACUUM' AS command, p.phase, ${REL} AS relation,
            p.heap_blks_total::float8 AS "heapBlksTotal", p.heap_blks_scanned::float8 AS "heapBlksScanned",
            p.heap_blks_vacuumed::float8 AS "heapBlksVacuumed", ${PCT('p.heap_blks_scanned', 'p.heap_blks_total')} AS percent
       FROM pg_stat_progress_vacuum p WHERE p.pid = $1
     UNION ALL
     SELECT p.command, p.phase, ${REL}, p.heap_blks_total::float8, p.heap_blks_scanned::float8, NULL::float8,
            ${PCT('p.heap_blks_scanned', 'p.heap_blks_total')}
       FROM pg_stat_progress_cluster p WHERE p.pid = $1
     UNION ALL
     SELECT 'ANALYZE', p.phase, ${REL}, p.sample_blks_total::float8, p.sample_blks_scanned::float8, NULL::float8,
            ${PCT('p.sample_blks_scanned', 'p.sample_blks_total')}
       FROM pg_stat_progress_analyze p WHERE p.pid = $1
     LIMIT 1`,
    [pid],
  );
  return r.rows[0] ?? null;
}
