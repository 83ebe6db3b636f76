import type pg from 'pg';
import { DbopsError } from '../errors.js';
import { sqlState } from './sql.js';

/** A table the bot may act on, resolved through the catalog. */
export interface ResolvedRelation {
  oid: number;
  schema: string;
  name: string;
  /** `"schema"."name"`, quoted from catalog names: the only form ever put into SQL text. */
  qualified: string;
  /** r = table, m = materialized view, p = partitioned table */
  relkind: 'r' | 'm' | 'p';
}

const KIND_NAMES: Record<string, string> = {
  v: 'a view',
  S: 'a sequence',
  i: 'an index',
  I: 'a partitioned index',
  c: 'a composite type',
  f: 'a foreign table',
  t: 'a TOAST table',
};

const MAX_NAME_TEXT = 300;

export interface ResolveOptions {
  /**
   * The user named a system catalog on purpose (`--catalog`). Without it, tables in pg_catalog,
   * information_schema and pg_toast are refused: a typo or a search_path surprise should not make
   * the bot rewrite or lock a catalog (VACUUM FULL pg_class blocks every query on the server).
   */
  catalog?: boolean;
}

/** Schemas whose tables are the system's own: pg_toast_temp_N included. */
export function isCatalogSchema(schema: string): boolean {
  return schema === 'pg_catalog' || schema === 'information_schema' || /^pg_toast(_temp_\d+)?$/.test(schema);
}

/**
 * Resolves the user's table text with `to_regclass($1)` (bound, so `public.orders`, `"Mixed Case"` and
 * `sales."odd name"` follow PostgreSQL's own parsing and search_path). Anything that does not resolve
 * to a table / matview / partitioned table is a typed error naming the text and what would be right.
 */
export async function resolveRelation(client: pg.Client, rawText: string, opts: ResolveOptions = {}): Promise<ResolvedRelation> {
  const text = rawText.trim();
  if (text === '') throw new DbopsError('bad_input', 'Give a table name, e.g. `orders` or `sales.orders`.');
  if (text.length > MAX_NAME_TEXT) throw new DbopsError('bad_input', 'That table name is too long to be a PostgreSQL name.');
  // PG16+ to_regclass accepts a bare OID; users mean names, and an OID would bypass what they can see.
  if (/^\d+$/.test(text)) {
    throw new DbopsError('bad_input', `\`${text}\` is a number, not a table name. Give the table's name, e.g. \`public.orders\`; quote names made of digits: \`"${text}"\`.`);
  }

  let row: { oid: number; schema: string; name: string; relkind: string } | undefined;
  try {
    const r = await client.query<{ oid: number; schema: string; name: string; relkind: string }>(
      `SELECT c.oid::int8::float8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = to_regclass($1)`,
      [text],
    );
    row = r.rows[0];
  } catch (err) {
    // PG15 raises (instead of returning NULL) on unparsable names: `x" ; --`, `a.b.c.d`, `otherdb.s.t`.
    const state = sqlState(err);
    if (state && (state.startsWith('42') || state === '0A000')) {
      throw new DbopsError(
        'bad_input',
        `\`${text}\` is not a valid table name. Use \`table\` or \`schema.table\`; put double quotes around names with capitals, spaces or symbols, e.g. \`sales."Odd Name"\`.`,
        { cause: err },
      );
    }
    throw err;
  }

  if (!row) throw new DbopsError('not_found', await notFoundMessage(client, text));
  if (!opts.catalog && isCatalogSchema(row.schema)) {
    throw new DbopsError(
      'bad_input',
      `\`${text}\` is the system catalog table \`${row.schema}.${row.name}\`. dbops leaves catalogs alone unless told explicitly: add \`--catalog\` if you mean it.`,
    );
  }
  if (row.relkind !== 'r' && row.relkind !== 'm' && row.relkind !== 'p') {
    throw new DbopsError(
      'bad_input',
      `\`${text}\` is ${KIND_NAMES[row.relkind] ?? `not a table (relkind ${row.relkind})`}. Give a table, partitioned table or materialized view.`,
    );
  }
  return {
    oid: row.oid,
    schema: row.schema,
    name: row.name,
    qualified: `${client.escapeIdentifier(row.schema)}.${client.escapeIdentifier(row.name)}`,
    relkind: row.relkind,
  };
}

/** Suggests catalog spellings when the text differs only by case/quoting (the usual mistake). */
async function notFoundMessage(client: pg.Client, text: string): Promise<string> {
  const bare = text.replace(/"/g, '');
  const namePart = bare.slice(bare.lastIndexOf('.') + 1);
  const r = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE lower(c.relname) = lower($1) AND c.relkind IN ('r', 'm', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1, 2 LIMIT 3`,
    [namePart],
  );
  const base = `No table \`${text}\` in this database (or it is not on the search_path).`;
  if (r.rows.length === 0) return `${base} Check the spelling; schema-qualify it (\`schema.table\`) or quote mixed-case names (\`"Orders"\`).`;
  const quote = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  const hints = r.rows.map((x) => `\`${quote(x.schema)}.${quote(x.name)}\``).join(', ');
  return `${base} Did you mean ${hints}? Schema-qualify it and quote mixed-case names.`;
}
