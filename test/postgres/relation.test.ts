import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbopsError } from '../../src/errors.js';
import { isCatalogSchema, resolveRelation } from '../../src/postgres/relation.js';
import { openTargetSession } from '../../src/postgres/session.js';
import { createTestDatabase } from '../helpers/db.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let bot: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('rel');
  bot = await openTargetSession(db.url);
  await bot.query(`
    CREATE TABLE orders (id int);
    CREATE TABLE "Mixed Case" (id int);
    CREATE SCHEMA sales;
    CREATE TABLE sales."odd name" (id int);
    CREATE TABLE sales."Orders" (id int);
    CREATE TABLE "123" (id int);
    CREATE TABLE x (id int);
    CREATE VIEW orders_v AS SELECT * FROM orders;
    CREATE MATERIALIZED VIEW orders_mv AS SELECT * FROM orders;
    CREATE TABLE parted (id int) PARTITION BY RANGE (id);
    CREATE SEQUENCE seq1;
    CREATE INDEX orders_idx ON orders (id);`);
});

afterAll(async () => {
  await bot?.end().catch(() => undefined);
  await db?.drop();
});

async function failure(text: string): Promise<DbopsError> {
  const err = await resolveRelation(bot, text).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DbopsError);
  return err as DbopsError;
}

describe('resolveRelation', () => {
  it('resolves plain, schema-qualified, quoted and mixed-case names through the catalog', async () => {
    const plain = await resolveRelation(bot, 'orders');
    expect(plain).toMatchObject({ schema: 'public', name: 'orders', qualified: '"public"."orders"', relkind: 'r' });
    expect(plain.oid).toBeGreaterThan(0);

    expect(await resolveRelation(bot, ' public.orders ')).toMatchObject({ oid: plain.oid });
    expect(await resolveRelation(bot, '"Mixed Case"')).toMatchObject({ name: 'Mixed Case', qualified: '"public"."Mixed Case"' });
    expect(await resolveRelation(bot, 'sales."odd name"')).toMatchObject({ schema: 'sales', qualified: '"sales"."odd name"' });
    expect(await resolveRelation(bot, '"123"')).toMatchObject({ name: '123' });
    expect(await resolveRelation(bot, 'orders_mv')).toMatchObject({ relkind: 'm' });
    expect(await resolveRelation(bot, 'parted')).toMatchObject({ relkind: 'p' });

    // the oid really is the catalog's
    const r = await bot.query(`SELECT 'sales."odd name"'::regclass::oid::int AS oid`);
    expect((await resolveRelation(bot, 'sales."odd name"')).oid).toBe(r.rows[0].oid);
  });

  it('says how to fix unquoted mixed-case names, and suggests the catalog spelling', async () => {
    const e = await failure('Mixed Case');
    expect(['bad_input', 'not_found']).toContain(e.code);

    const e2 = await failure('sales.orders');
    expect(e2.code).toBe('not_found');
    expect(e2.userMessage).toContain('sales.orders');
    expect(e2.userMessage).toContain('sales."Orders"');

    const e3 = await failure('nosuch');
    expect(e3.code).toBe('not_found');
    expect(e3.userMessage).toMatch(/schema-qualify|quote/i);
  });

  it('rejects digit-only input (an OID on PG16+) without asking the server', async () => {
    const e = await failure('1259');
    expect(e.code).toBe('bad_input');
    expect(e.userMessage).toContain('"1259"');
  });

  it('rejects views, sequences and indexes, naming what they are', async () => {
    expect((await failure('orders_v')).userMessage).toMatch(/a view/);
    expect((await failure('seq1')).userMessage).toMatch(/a sequence/);
    const idx = await failure('orders_idx');
    expect(idx.code).toBe('bad_input');
    expect(idx.userMessage).toMatch(/an index/);
  });

  it('injection attempts never resolve, and nothing is executed', async () => {
    for (const text of ['orders; drop table x', 'x" ; --', 'x"; DROP TABLE orders; --', "orders' OR '1'='1", 'a.b.c.d', 'otherdb.public.orders', '']) {
      const e = await failure(text);
      expect(['bad_input', 'not_found']).toContain(e.code);
    }
    const still = await bot.query(`SELECT to_regclass('x') IS NOT NULL AS x, to_regclass('orders') IS NOT NULL AS o`);
    expect(still.rows[0]).toEqual({ x: true, o: true });
  });

  it('errors leave the session usable (no aborted transaction)', async () => {
    await failure('x" ; --');
    expect((await resolveRelation(bot, 'x')).name).toBe('x');
  });
});

describe('resolveRelation: system catalogs', () => {
  it('refuses pg_catalog, information_schema and pg_toast tables unless the caller says the user asked (--catalog)', async () => {
    const toast = (await bot.query(`SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pg_toast' AND c.relkind = 't' LIMIT 1`)).rows[0].name as string;
    for (const text of ['pg_catalog.pg_class', 'pg_class', 'PG_CATALOG.PG_CLASS', 'information_schema.sql_features']) {
      const e = await failure(text);
      expect(e.code).toBe('bad_input');
      expect(e.userMessage).toMatch(/system catalog table/);
      expect(e.userMessage).toContain('--catalog');
    }
    // A TOAST table is refused either way (not a table one vacuums by name).
    expect((await failure(toast)).code).toBe('bad_input');
    expect(await resolveRelation(bot, 'pg_catalog.pg_class', { catalog: true })).toMatchObject({ schema: 'pg_catalog', name: 'pg_class', relkind: 'r' });
    expect(await resolveRelation(bot, 'information_schema.sql_features', { catalog: true })).toMatchObject({ schema: 'information_schema' });
  });

  it('a user table whose name merely looks like a catalog is not refused', async () => {
    // (Schema names starting with pg_ are reserved, so pg_toastish-like schemas are covered below.)
    await bot.query(`CREATE TABLE pg_catalog_copy (id int); CREATE TABLE information_schema_notes (id int)`);
    expect(await resolveRelation(bot, 'pg_catalog_copy')).toMatchObject({ schema: 'public' });
    expect(await resolveRelation(bot, 'information_schema_notes')).toMatchObject({ schema: 'public' });
  });
});

describe('isCatalogSchema', () => {
  it('names the system schemas and nothing else', () => {
    for (const s of ['pg_catalog', 'information_schema', 'pg_toast', 'pg_toast_temp_3']) expect(isCatalogSchema(s)).toBe(true);
    for (const s of ['public', 'pg_toastish', 'pg_temp_3', 'catalog', 'Information_Schema']) expect(isCatalogSchema(s)).toBe(false);
  });
});
