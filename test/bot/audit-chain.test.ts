import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, listAudit, verifyAudit } from '../../src/store/audit.js';
import { inTransaction, openStatePool } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { adminQuery, createTestDatabase, urlFor } from '../helpers/db.js';
import { ask, startTestBot, targetsYaml, type TestBot } from '../helpers/bot.js';

// The audit chain on a realistic history: 2,500 rows (past verifyAudit's 1000-row page and past the
// ids where text order differs from numeric order). Each tampering case gets its own copy of the
// seeded state database so one break cannot mask another.

const ROWS = 2500;
const seq = (n: number) => `seq-${String(n).padStart(4, '0')}`;

type Db = { name: string; url: string; drop: () => Promise<void> };
let seed: Db;
const clones: Db[] = [];
let tb: TestBot;

/** A copy of the seeded state database (CREATE DATABASE … TEMPLATE: fast, and identical ids and hashes). */
async function cloneSeed(): Promise<Db> {
  const name = `dbops_auditclone_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${seed.name}"`);
  const db: Db = {
    name,
    url: urlFor(name),
    drop: async () => {
      await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await adminQuery(`DROP DATABASE IF EXISTS "${name}"`);
    },
  };
  clones.push(db);
  return db;
}

/** Runs SQL as a superuser going around the append-only trigger, as someone tampering would. */
async function tamper(db: Db, sql: string, params: unknown[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`SET session_replication_role = replica`);
    await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** The id of the row whose outcome is seq(n), and of its successor in the chain. */
async function idOf(db: Db, n: number): Promise<string> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query<{ id: string }>(`SELECT id::text AS id FROM audit WHERE outcome = $1`, [seq(n)])).rows[0]!.id;
  } finally {
    await c.end();
  }
}

async function verify(db: Db) {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    return await verifyAudit(pool);
  } finally {
    await pool.end();
  }
}

beforeAll(async () => {
  seed = await createTestDatabase('auditseed');
  const pool = await openStatePool(seed.url, { create: false, max: 2 });
  try {
    await migrate(pool);
    // One transaction through the real append path: same hashing, linking and timestamps as the bot.
    await inTransaction(pool, async (c) => {
      for (let n = 1; n <= ROWS; n++) await appendAudit(c, { actor: 'U0SEED', action: 'seed', target: 'chain', outcome: seq(n), detail: { n } });
    });
  } finally {
    await pool.end();
  }
  tb = await startTestBot({ targets: targetsYaml({ chain: `environment: staging\nengine: self-hosted\nurl: ${urlFor('postgres')}` }), stateDb: await cloneSeed() });
}, 120_000);

afterAll(async () => {
  await tb?.stop();
  for (const db of clones) await db.drop().catch(() => undefined);
  await seed?.drop();
});

describe('an untouched chain of 2,500 rows', () => {
  it('verifies, on the wire and directly', async () => {
    expect(await verify(seed)).toEqual({ ok: true, rows: ROWS });
    expect(await ask(tb, 'audit verify')).toMatch(new RegExp(`Audit chain verified: ${ROWS} row\\(s\\)`));
  });

  it('/db audit lists the newest rows first, in time order', async () => {
    const text = await ask(tb, 'audit chain --since 1h');
    const shown = [...text.matchAll(/seq-(\d{4})/g)].map((m) => Number(m[1]));
    expect(shown).toEqual(Array.from({ length: 50 }, (_, i) => ROWS - i));
  });

  it('listAudit orders by time, then id, whatever the filter', async () => {
    const pool = new pg.Pool({ connectionString: seed.url, max: 1 });
    try {
      const rows = await listAudit(pool, { target: 'chain', limit: 1200 });
      expect(rows).toHaveLength(1200);
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1]!, rows[i]!];
        expect(a.at >= b.at && BigInt(a.id) > BigInt(b.id), `${a.id}@${a.at} before ${b.id}@${b.at}`).toBe(true);
      }
    } finally {
      await pool.end();
    }
  });
});

describe('tampering is found, with the row it starts at', () => {
  it('an altered row (past the first page)', async () => {
    const db = await cloneSeed();
    const victim = await idOf(db, 1733);
    await tamper(db, `UPDATE audit SET outcome = 'nothing to see' WHERE id = $1`, [victim]);
    const r = await verify(db);
    expect(r.ok).toBe(false);
    expect(r.brokenAt).toEqual({ id: victim, reason: expect.stringMatching(/content does not match its hash/) });
  });

  it('a deleted row (the first of the second page): reported at the row after the gap', async () => {
    const db = await cloneSeed();
    const gone = await idOf(db, 1001);
    const next = await idOf(db, 1002);
    await tamper(db, `DELETE FROM audit WHERE id = $1`, [gone]);
    const r = await verify(db);
    expect(r.ok).toBe(false);
    expect(r.brokenAt).toEqual({ id: next, reason: expect.stringMatching(/link to the previous row .*is broken/) });
  });

  it('a reordered pair (contents swapped across the page boundary): reported at the first of the pair', async () => {
    const db = await cloneSeed();
    const [a, b] = [await idOf(db, 2000), await idOf(db, 2001)];
    await tamper(
      db,
      `WITH pair AS (SELECT x.id, y.at, y.actor, y.action, y.run_id, y.target, y.channel, y.outcome, y.detail, y.prev_hash, y.hash
                       FROM audit x JOIN audit y ON (x.id, y.id) IN (($1::bigint, $2::bigint), ($2::bigint, $1::bigint)))
       UPDATE audit SET at = pair.at, actor = pair.actor, action = pair.action, run_id = pair.run_id, target = pair.target, channel = pair.channel,
              outcome = pair.outcome, detail = pair.detail, prev_hash = pair.prev_hash, hash = pair.hash
         FROM pair WHERE audit.id = pair.id`,
      [a, b],
    );
    expect(await idOf(db, 2000)).toBe(b);
    const r = await verify(db);
    expect(r.ok).toBe(false);
    expect(r.brokenAt).toEqual({ id: a, reason: expect.stringMatching(/link to the previous row .*is broken/) });
  });

  it('the bot reports it on the wire too', async () => {
    const victim = await idOf(tb.stateDb, 2222);
    await tamper(tb.stateDb, `UPDATE audit SET detail = '{"n": 0}' WHERE id = $1`, [victim]);
    expect(await ask(tb, 'audit verify')).toMatch(new RegExp(`BROKEN at row ${victim}: content does not match its hash`));
  });
});
