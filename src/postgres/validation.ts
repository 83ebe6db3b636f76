/**
 * What a restored database holds, read the same way from the restored copy and from the source so
 * the two can be compared: per-table row counts, the schema version the migration tool recorded,
 * tables and columns, and the newest value of configured "freshness" columns.
 */
import type pg from 'pg';

export interface TableCount {
  table: string;
  rows: number;
  /** false: the table is too large to count during an incident; `rows` is the planner's estimate. */
  exact: boolean;
}

/** Larger tables get pg_class.reltuples instead of count(*): counting a production table must not take minutes. */
export const EXACT_COUNT_MAX_BYTES = 1024 ** 3;

// The same tables pg_dump writes data for (see providers/dump.ts): ordinary, not extension members.
const USER_TABLES = `
SELECT n.nspname AS schema, c.relname AS name, pg_table_size(c.oid)::float8 AS size, c.reltuples::float8 AS estimate
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

const qualified = (c: pg.Client, schema: string, name: string) => `${c.escapeIdentifier(schema)}.${c.escapeIdentifier(name)}`;

export async function tableCounts(c: pg.Client, maxExactBytes = EXACT_COUNT_MAX_BYTES): Promise<TableCount[]> {
  const tables = (await c.query<{ schema: string; name: string; size: number; estimate: number }>(USER_TABLES)).rows;
  const out: TableCount[] = [];
  for (const t of tables) {
    if (t.size > maxExactBytes) {
      out.push({ table: `${t.schema}.${t.name}`, rows: Math.max(0, Math.round(t.estimate)), exact: false });
      continue;
    }
    const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qualified(c, t.schema, t.name)}`);
    out.push({ table: `${t.schema}.${t.name}`, rows: Number(r.rows[0]!.n), exact: true });
  }
  return out;
}

export interface SchemaVersion {
  /** prisma | rails/schema_migrations | golang-migrate | drizzle */
  tool: string;
  table: string;
  /** The newest applied migration as the tool names it. */
  version: string | null;
  applied: number;
  /** golang-migrate: the last migration failed half-way. */
  dirty?: boolean;
}

/** Candidate migration tables, found through the catalog (any schema), never by interpolating user text. */
const MIGRATION_TABLES = `
SELECT n.nspname AS schema, c.relname AS name,
       array_agg(a.attname::text ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'p') AND c.relname IN ('_prisma_migrations', 'schema_migrations', '__drizzle_migrations')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 GROUP BY 1, 2 ORDER BY 1, 2`;

export async function schemaVersions(c: pg.Client): Promise<SchemaVersion[]> {
  const found = (await c.query<{ schema: string; name: string; columns: string[] }>(MIGRATION_TABLES)).rows;
  const out: SchemaVersion[] = [];
  for (const t of found) {
    const q = qualified(c, t.schema, t.name);
    const label = `${t.schema}.${t.name}`;
    const cols = new Set(t.columns);
    if (t.name === '_prisma_migrations') {
      const r = await c.query<{ v: string | null; n: string }>(`SELECT (SELECT migration_name FROM ${q} WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY finished_at DESC, migration_name DESC LIMIT 1) AS v, (SELECT count(*) FROM ${q} WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL) AS n`);
      out.push({ tool: 'prisma', table: label, version: r.rows[0]!.v, applied: Number(r.rows[0]!.n) });
    } else if (t.name === 'schema_migrations' && cols.has('dirty')) {
      // golang-migrate keeps one row: the current version and whether it failed half-way.
      const r = await c.query<{ v: string | null; dirty: boolean | null }>(`SELECT version::text AS v, dirty FROM ${q} ORDER BY version DESC LIMIT 1`);
      const row = r.rows[0];
      out.push({ tool: 'golang-migrate', table: label, version: row?.v ?? null, applied: row ? 1 : 0, ...(row?.dirty ? { dirty: true } : {}) });
    } else if (t.name === 'schema_migrations' && cols.has('version')) {
      // Rails / ActiveRecord and friends: one row per applied version (text, ordered as numbers when they are).
      const r = await c.query<{ v: string | null; n: string }>(`SELECT max(version::text COLLATE "C") AS v, count(*) AS n FROM ${q}`);
      out.push({ tool: 'schema_migrations', table: label, version: r.rows[0]!.v, applied: Number(r.rows[0]!.n) });
    } else if (t.name === '__drizzle_migrations' && cols.has('created_at')) {
      const r = await c.query<{ v: string | null; n: string }>(`SELECT (SELECT hash FROM ${q} ORDER BY created_at DESC LIMIT 1) AS v, (SELECT count(*) FROM ${q}) AS n`);
      out.push({ tool: 'drizzle', table: label, version: r.rows[0]!.v, applied: Number(r.rows[0]!.n) });
    }
  }
  return out;
}

/** "schema.table" → "column type" lines, for the tables/columns diff. */
export async function columnsByTable(c: pg.Client): Promise<Record<string, string[]>> {
  const r = await c.query<{ t: string; cols: string[] }>(
    `SELECT n.nspname || '.' || c.relname AS t,
            array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS cols
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
      GROUP BY 1 ORDER BY 1`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.t, x.cols]));
}

export interface SchemaDiff {
  onlyInSource: string[];
  onlyInRestored: string[];
  /** "schema.table: +col type / -col type" */
  changed: string[];
}

export function diffColumns(source: Record<string, string[]>, restored: Record<string, string[]>): SchemaDiff {
  const onlyInSource = Object.keys(source).filter((t) => !(t in restored));
  const onlyInRestored = Object.keys(restored).filter((t) => !(t in source));
  const changed: string[] = [];
  for (const t of Object.keys(source)) {
    const r = restored[t];
    if (!r) continue;
    const s = new Set(source[t]);
    const rr = new Set(r);
    const added = r.filter((x) => !s.has(x)).map((x) => `+${x}`);
    const removed = source[t]!.filter((x) => !rr.has(x)).map((x) => `-${x}`);
    if (added.length || removed.length) changed.push(`${t}: ${[...removed, ...added].join(', ')}`);
  }
  return { onlyInSource, onlyInRestored, changed };
}

export interface FreshnessResult {
  column: string;
  /** ISO, or null when the table is empty; undefined when the column does not exist here. */
  max?: string | null;
  /** max ≤ the restore point (null max counts as fine). */
  ok: boolean;
  problem?: string;
}

/**
 * The newest value of each `schema.table.column` must not be later than the point the restore
 * represents: a later one means the data is not what the user thinks it is. Columns are resolved in
 * the catalog first (a missing one is reported, never interpolated).
 */
export async function freshness(c: pg.Client, columns: readonly string[], restorePoint: Date): Promise<FreshnessResult[]> {
  const out: FreshnessResult[] = [];
  for (const col of columns) {
    const parts = col.split('.');
    const [schema, table, column] = parts.length === 3 ? parts : parts.length === 2 ? ['public', parts[0]!, parts[1]!] : [undefined, undefined, undefined];
    if (!schema || !table || !column) {
      out.push({ column: col, ok: false, problem: 'not of the form schema.table.column' });
      continue;
    }
    const found = await c.query<{ ok: boolean }>(
      `SELECT true AS ok FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped`,
      [schema, table, column],
    );
    if (!found.rowCount) {
      out.push({ column: col, ok: false, problem: 'no such column in the restored database' });
      continue;
    }
    const r = await c.query<{ max: string | null; ok: boolean | null }>(
      `SELECT to_char(m AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS max, m <= $1::timestamptz AS ok
         FROM (SELECT max(${c.escapeIdentifier(column)})::timestamptz AS m FROM ${qualified(c, schema, table)}) s`,
      [restorePoint.toISOString()],
    );
    const row = r.rows[0]!;
    out.push({ column: col, max: row.max, ok: row.ok !== false, ...(row.ok === false ? { problem: `newest value ${row.max} is later than the restore point ${restorePoint.toISOString()}` } : {}) });
  }
  return out;
}
