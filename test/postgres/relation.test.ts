import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbopsError } from '../../src/errors.js';
import { resolveRelation } from '../../src/postgres/relation.js';
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
