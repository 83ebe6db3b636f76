import type pg from 'pg';

export interface TableSize {
  schema: string;
  name: string;
  /** pg_total_relation_size: heap + indexes + TOAST (with its index) + free space/visibility maps */
  totalBytes: number;
  /** the heap with its free space and visibility maps: total − indexes − TOAST */
  tableBytes: number;
  /** pg_indexes_size */
  indexBytes: number;
  /** the TOAST table and its index (reltoastrelid), 0 without one */
  toastBytes: number;
  /** planner estimate (pg_class.reltuples), null when never analyzed */
  rows: number | null;
}

export interface DatabaseSize {
  name: string;
  bytes: number;
  tables: TableSize[];
  /** tables and materialized views in this database, system catalogs left out */
  tableCount: number;
}

// The system catalogs are in the database size, not in the list: they are not the user's to shrink.
const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`;

/**
 * This database's size and its largest user tables (and materialized views) by total size, split into
 * heap, indexes and TOAST so they add up to the total.
 */
export async function databaseSize(c: pg.Client, limit = 15): Promise<DatabaseSize> {
  const head = await c.query<{ name: string; bytes: number; count: number }>(
    `SELECT current_database() AS name, pg_database_size(current_database())::float8 AS bytes,
            (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS})::int AS count`,
  );
  const tables = await c.query<TableSize>(
    `SELECT schema, name, total::float8 AS "totalBytes", (total - idx - toast)::float8 AS "tableBytes",
            idx::float8 AS "indexBytes", toast::float8 AS "toastBytes", rows
       FROM (SELECT n.nspname AS schema, c.relname AS name,
                    pg_total_relation_size(c.oid) AS total, pg_indexes_size(c.oid) AS idx,
                    CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END AS toast,
                    CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 END AS rows
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS}) t
      ORDER BY total DESC, schema, name
      LIMIT $1`,
    [limit],
  );
  const h = head.rows[0]!;
  return { name: h.name, bytes: h.bytes, tableCount: h.count, tables: tables.rows };
}
