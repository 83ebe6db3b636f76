import type pg from 'pg';

/**
 * Estimated bloat from statistics alone (no pgstattuple, no table scan): the classic check_postgres /
 * pgexperts estimate, in the corrected form of ioguix's table_bloat / btree_bloat queries. From
 * pg_stats' average widths and null fractions it computes the size a tuple needs (header, null
 * bitmap and data, each MAXALIGNed, plus its line pointer), hence how many pages reltuples should
 * fill at the relation's fillfactor; what the relation has beyond that is bloat.
 *
 * Differences from the seeds' copy, on purpose: relations are joined by oid (the seeds' schema||'.'||name
 * breaks on quoted names), stats of inheritance parents (`inherited`) are not summed in twice, the
 * alignment is 8 on 64-bit builds (the seeds assume 4) and the block size is read, not 8192.
 * An estimate is only given when every column has statistics (ANALYZE) and reltuples is known.
 */

export interface TableBloat {
  schema: string;
  name: string;
  /** heap + TOAST pages × block size */
  realBytes: number;
  bloatBytes: number;
  bloatPercent: number;
  fillfactor: number;
}

export interface IndexBloat {
  schema: string;
  table: string;
  name: string;
  realBytes: number;
  bloatBytes: number;
  bloatPercent: number;
  fillfactor: number;
}

export interface BloatEstimate {
  tables: TableBloat[];
  indexes: IndexBloat[];
  /** Tables and materialized views left out because they lack statistics: ANALYZE them. */
  tablesWithoutStats: number;
}

// pg_toast and the information schema are not the user's to act on; pg_catalog bloat can be, but
// is rarely the answer an on-call engineer needs first.
const USER_SCHEMAS = `ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname !~ '^pg_toast' AND ns.nspname !~ '^pg_temp_'`;

// 8-byte alignment on 64-bit builds (what nearly every server runs), 4 otherwise.
const MAXALIGN = `CASE WHEN version() ~ '64-bit|x86_64|aarch64|arm64|ppc64|s390x|ia64|amd64|mingw32' THEN 8 ELSE 4 END`;

/** x rounded up to a multiple of ma (SQL for MAXALIGN). */
const align = (x: string, ma = 'ma') => `(ceil((${x})::numeric) + ${ma} - CASE WHEN ceil((${x})::numeric)::bigint % ${ma} = 0 THEN ${ma} ELSE ceil((${x})::numeric)::bigint % ${ma} END)`;

const TABLE_BLOAT = `
WITH k AS (SELECT current_setting('block_size')::numeric AS bs, 24 AS page_hdr, ${MAXALIGN} AS ma),
per_table AS (
  SELECT tbl.oid, ns.nspname AS schema, tbl.relname AS name, tbl.reltuples::numeric AS reltuples, tbl.relpages AS heappages,
         coalesce(toast.relpages, 0) AS toastpages, coalesce(toast.reltuples, 0)::numeric AS toasttuples,
         coalesce(substring(array_to_string(tbl.reloptions, ' ') FROM 'fillfactor=([0-9]+)')::int, 100) AS fillfactor,
         -- heap tuple header (23 bytes) plus a null bitmap when some column has NULLs
         23 + CASE WHEN max(coalesce(s.null_frac, 0)) > 0 THEN (7 + count(*)) / 8 ELSE 0 END AS hdr,
         sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))::numeric AS data,
         count(*) <> count(s.attname) OR bool_or(att.atttypid = 'pg_catalog.name'::regtype) OR tbl.reltuples < 0 AS no_stats
    FROM pg_class tbl
    JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
    JOIN pg_attribute att ON att.attrelid = tbl.oid AND att.attnum > 0 AND NOT att.attisdropped
    LEFT JOIN pg_stats s ON s.schemaname = ns.nspname AND s.tablename = tbl.relname AND s.attname = att.attname AND NOT s.inherited
    LEFT JOIN pg_class toast ON toast.oid = tbl.reltoastrelid
   WHERE tbl.relkind IN ('r', 'm') AND ${USER_SCHEMAS}
   GROUP BY tbl.oid, ns.nspname, tbl.relname, tbl.reltuples, tbl.relpages, toast.relpages, toast.reltuples, tbl.reloptions
),
est AS (
  SELECT t.*, k.bs, (t.heappages + t.toastpages) AS pages,
         -- line pointer (4) + aligned header + aligned data; TOAST chunks: about 4 per page
         ceil(t.reltuples / ((k.bs - k.page_hdr) * t.fillfactor / ((4 + ${align('t.hdr', 'k.ma')} + ${align('t.data', 'k.ma')}) * 100))) + ceil(t.toasttuples / 4) AS est_pages
    FROM per_table t, k
   WHERE NOT t.no_stats
)
SELECT schema, name, (pages * bs)::float8 AS "realBytes",
       (greatest(pages - est_pages, 0) * bs)::float8 AS "bloatBytes",
       CASE WHEN pages > 0 THEN round(100 * greatest(pages - est_pages, 0) / pages, 1) ELSE 0 END::float8 AS "bloatPercent",
       fillfactor
  FROM est
 WHERE pages > est_pages AND (100 * (pages - est_pages) / pages >= $2 OR (pages - est_pages) * bs >= $3)
 ORDER BY pages - est_pages DESC, schema, name
 LIMIT $1`;

const INDEX_BLOAT = `
WITH k AS (SELECT current_setting('block_size')::numeric AS bs, 24 AS page_hdr, 16 AS btree_opaque, ${MAXALIGN} AS ma),
per_index AS (
  SELECT ci.oid, ns.nspname AS schema, ct.relname AS "table", ci.relname AS name, ci.reltuples::numeric AS reltuples, ci.relpages,
         coalesce(substring(array_to_string(ci.reloptions, ' ') FROM 'fillfactor=([0-9]+)')::int, 90) AS fillfactor,
         -- IndexTupleData (8), plus the null bitmap when a key column has NULLs
         CASE WHEN max(coalesce(s.null_frac, 0)) = 0 THEN 8 ELSE 8 + (32 + 8 - 1) / 8 END AS hdr,
         sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 1024))::numeric AS data,
         count(*) <> count(s.attname) OR bool_or(coalesce(a1.atttypid, a2.atttypid) = 'pg_catalog.name'::regtype) OR ci.reltuples < 0 AS no_stats
    FROM pg_index i
    JOIN pg_class ci ON ci.oid = i.indexrelid
    JOIN pg_class ct ON ct.oid = i.indrelid
    JOIN pg_namespace ns ON ns.oid = ci.relnamespace
    JOIN pg_am am ON am.oid = ci.relam AND am.amname = 'btree'
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS key(attnum, pos)
    -- a key column's statistics are the table's; an expression's (attnum 0) are the index's own
    LEFT JOIN pg_attribute a1 ON key.attnum <> 0 AND a1.attrelid = i.indrelid AND a1.attnum = key.attnum
    LEFT JOIN pg_attribute a2 ON key.attnum = 0 AND a2.attrelid = i.indexrelid AND a2.attnum = key.pos
    LEFT JOIN pg_stats s ON s.schemaname = ns.nspname AND NOT s.inherited
          AND s.tablename = CASE WHEN key.attnum = 0 THEN ci.relname ELSE ct.relname END
          AND s.attname = coalesce(a1.attname, a2.attname)
   WHERE ci.relpages > 0 AND ${USER_SCHEMAS}
   GROUP BY ci.oid, ns.nspname, ct.relname, ci.relname, ci.reltuples, ci.relpages, ci.reloptions
),
est AS (
  SELECT x.*, k.bs,
         1 + ceil(x.reltuples / floor((k.bs - k.page_hdr - k.btree_opaque) * x.fillfactor / (100 * (4 + ${align('x.hdr', 'k.ma')} + CASE WHEN x.data = 0 THEN 0 ELSE ${align('x.data', 'k.ma')} END)))) AS est_pages
    FROM per_index x, k
   WHERE NOT x.no_stats
)
SELECT schema, "table", name, (relpages * bs)::float8 AS "realBytes",
       (greatest(relpages - est_pages, 0) * bs)::float8 AS "bloatBytes",
       round(100 * greatest(relpages - est_pages, 0) / relpages, 1)::float8 AS "bloatPercent",
       fillfactor
  FROM est
 WHERE relpages > est_pages AND (100 * (relpages - est_pages) / relpages >= $2 OR (relpages - est_pages) * bs >= $3)
 ORDER BY relpages - est_pages DESC, schema, name
 LIMIT $1`;

// Never analyzed (or vacuumed) since PG14 shows as reltuples = -1; without pg_stats rows no estimate either.
const WITHOUT_STATS = `
SELECT count(*)::int AS n
  FROM pg_class tbl JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
 WHERE tbl.relkind IN ('r', 'm') AND ${USER_SCHEMAS}
   AND (tbl.reltuples < 0 OR NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = ns.nspname AND s.tablename = tbl.relname AND NOT s.inherited))`;

export interface BloatOptions {
  /** at most this many tables and as many indexes; default 10 */
  limit?: number;
  /**
   * Relations are listed from this share of bloat (default 10 %): below it the estimate is within its
   * own error (alignment, average widths), so a tidy table would show a page or two of "bloat".
   */
  minPercent?: number;
  /** …or from this many wasted bytes whatever the share (a few % of a huge table); default 1 GB */
  minBytes?: number;
}

/** The most bloated tables and btree indexes of this database (estimates; see above). */
export async function estimateBloat(c: pg.Client, opts: BloatOptions = {}): Promise<BloatEstimate> {
  const params = [opts.limit ?? 10, opts.minPercent ?? 10, opts.minBytes ?? 1024 ** 3];
  const t = await c.query<TableBloat>(TABLE_BLOAT, params);
  const i = await c.query<IndexBloat>(INDEX_BLOAT, params);
  return { tables: t.rows, indexes: i.rows, tablesWithoutStats: (await c.query<{ n: number }>(WITHOUT_STATS)).rows[0]!.n };
}
