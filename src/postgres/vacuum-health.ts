import type pg from 'pg';
import { isoText } from './sql.js';

export interface DeadTuples {
  schema: string;
  name: string;
  nDeadTup: number;
  nLiveTup: number;
  /** dead / (live + dead) × 100, one decimal */
  deadPercent: number | null;
  lastVacuum: string | null;
  lastAutovacuum: string | null;
  /** Dead tuples at which autovacuum takes the table: threshold + scale_factor × reltuples (its own reloptions first). */
  autovacuumAt: number;
  autovacuumEnabled: boolean;
}

export interface DatabaseXidAge {
  name: string;
  xidAge: number;
  mxidAge: number;
}

export interface TableXidAge {
  schema: string;
  name: string;
  /** the older of the table's and its TOAST table's age(relfrozenxid) */
  xidAge: number;
  mxidAge: number;
  totalBytes: number;
}

export interface Wraparound {
  /** 2^31 − 1: how far age(datfrozenxid) can go before the server stops taking writes (minus a few million). */
  limit: number;
  freezeMaxAge: number;
  databases: DatabaseXidAge[];
  oldestTables: TableXidAge[];
}

/** The setting reloptions may override, else the server's. */
const relopt = (name: string, cast: string) =>
  `coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions) WHERE option_name = '${name}')::${cast}, current_setting('${name}')::${cast})`;

/**
 * Tables with dead tuples, most first (the seeds' "tables needing vacuum"), with where autovacuum
 * would take them. Counters are per backend flush (see table-stats.ts), so they lag by up to a second.
 */
export async function deadTuples(c: pg.Client, limit = 10): Promise<DeadTuples[]> {
  const r = await c.query<DeadTuples>(
    `SELECT s.schemaname AS schema, s.relname AS name, s.n_dead_tup::float8 AS "nDeadTup", s.n_live_tup::float8 AS "nLiveTup",
            round(s.n_dead_tup::numeric * 100 / nullif(s.n_live_tup + s.n_dead_tup, 0), 1)::float8 AS "deadPercent",
            ${isoText('s.last_vacuum')} AS "lastVacuum", ${isoText('s.last_autovacuum')} AS "lastAutovacuum",
            round(${relopt('autovacuum_vacuum_threshold', 'float8')} + ${relopt('autovacuum_vacuum_scale_factor', 'float8')} * greatest(c.reltuples, 0))::float8 AS "autovacuumAt",
            current_setting('autovacuum')::bool AND coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions) WHERE option_name = 'autovacuum_enabled')::bool, true) AS "autovacuumEnabled"
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.n_dead_tup > 0
      ORDER BY s.n_dead_tup DESC, s.schemaname, s.relname
      LIMIT $1`,
    [limit],
  );
  return r.rows;
}

/**
 * Transaction-id age per database (the cluster's oldest ten: any of them can stop the server) and the
 * oldest tables of this one, the ones an anti-wraparound VACUUM has to freeze first.
 */
export async function wraparound(c: pg.Client, limit = 5): Promise<Wraparound> {
  const dbs = await c.query<DatabaseXidAge & { freezeMaxAge: number }>(
    `SELECT datname AS name, age(datfrozenxid)::float8 AS "xidAge", mxid_age(datminmxid)::float8 AS "mxidAge",
            current_setting('autovacuum_freeze_max_age')::float8 AS "freezeMaxAge"
       FROM pg_database ORDER BY age(datfrozenxid) DESC, datname LIMIT 10`,
  );
  const tables = await c.query<TableXidAge>(
    `SELECT n.nspname AS schema, c.relname AS name,
            greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::float8 AS "xidAge",
            mxid_age(c.relminmxid)::float8 AS "mxidAge",
            pg_total_relation_size(c.oid)::float8 AS "totalBytes"
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
      -- temporary tables included: autovacuum cannot freeze them, only their session can
      WHERE c.relkind IN ('r', 'm')
      ORDER BY 3 DESC, 1, 2
      LIMIT $1`,
    [limit],
  );
  return {
    limit: 2 ** 31 - 1,
    freezeMaxAge: dbs.rows[0]?.freezeMaxAge ?? 200_000_000,
    databases: dbs.rows.map(({ freezeMaxAge: _, ...d }) => d),
    oldestTables: tables.rows,
  };
}
