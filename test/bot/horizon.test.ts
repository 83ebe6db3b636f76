import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, bloatedTable, createTestDatabase } from '../helpers/db.js';
import { connectAs, createTestRole, pidOf } from '../postgres/support.js';
import { ask, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// The server here runs wal_level=replica and max_prepared_transactions=0, so neither a logical slot's
// catalog_xmin nor a prepared transaction can be created: this covers the session path, which is
// what on-call engineers hit most (the slot/prepared/standby wording is unit-tested in
// test/postgres/horizon.test.ts).

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let holder: pg.Client;
let holderPid: number;

/** Runs `/db vacuum` and returns the text of its result message in the request's thread. */
async function vacuumResult(table: string): Promise<{ text: string; head: string }> {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await tb.wire.slashCommand({ text: `vacuum demo ${table}`, userId: REQUESTER, channelId: OPS });
  const head = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === OPS && !c.args.thread_ts && tb.fake.callsOf('chat.postMessage').indexOf(c) >= before);
  const headTs = (head.response as { ts: string }).ts;
  const result = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.thread_ts === headTs && /^(Done|Finished with a warning):/.test(String(c.args.text)), 30_000);
  const blocks = (result.args as { blocks: Array<{ text?: { text: string } }> }).blocks;
  return { text: textOf(result.args as never), head: blocks[0]!.text!.text };
}

beforeAll(async () => {
  target = await createTestDatabase('horizon');
  role = await createTestRole('hz');
  // A repeatable-read snapshot taken before the rows die, then left idle in its transaction: the
  // classic "VACUUM ran and removed nothing".
  // "partly": 10,000 dead tuples anyone may remove, then 2,000 more that die after the snapshot.
  await bloatedTable(target.url, 'partly', 20_000);
  holder = await connectAs(target.url, role.name, 'demo-app');
  holder.on('error', () => undefined);
  holderPid = await pidOf(holder);
  // A snapshot's xmin is the oldest transaction running anywhere in the cluster: if another test
  // file had one open at this moment, this snapshot would pin the first 10,000 too. Take it again
  // until it starts after the transaction that deleted them.
  const marker = BigInt((await adminQuery('SELECT txid_current()::text AS x')).rows[0].x);
  for (let i = 0; ; i++) {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1');
    const xmin = BigInt((await holder.query('SELECT txid_snapshot_xmin(txid_current_snapshot())::text AS x')).rows[0].x);
    if (xmin > marker || i >= 60) break;
    await holder.query('ROLLBACK');
    await new Promise((r) => setTimeout(r, 500));
  }
  await bloatedTable(target.url, 'pinned', 20_000);
  const c = await (await import('../helpers/db.js')).connect(target.url);
  await c.query('DELETE FROM partly WHERE id % 2 = 1 AND id <= 4000');
  await c.end();
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  await holder?.end().catch(() => undefined);
  await tb?.stop();
  await target?.drop();
  await role?.drop();
});

describe('dead tuples pinned by the xmin horizon', () => {
  it('the vacuum result says they could not be removed, names the holder and the command that ends it — no ✅', async () => {
    const { text, head } = await vacuumResult('pinned');
    expect(head).toMatch(/^:warning:/);
    expect(text).not.toContain(':white_check_mark:');
    expect(text).toMatch(/VACUUM public\.pinned: 10000 dead tuples could not be removed/);
    expect(text).toContain(`10,000 dead tuples could not be removed: pid ${holderPid} (demo-app, user ${role.name}, idle in transaction) has held a snapshot for`);
    expect(text).toContain(`\`/db kill demo ${holderPid}\``);
    // The stored result is honest too.
    const run = (await stateQuery(tb, `SELECT state, result->>'headline' AS h FROM runs WHERE runbook = 'vacuum' ORDER BY created_at DESC LIMIT 1`)).rows[0];
    expect(run.h).toMatch(/could not be removed/);
  }, 40_000);

  it('partly pinned: most dead tuples removed, but 2,000 kept by the same holder are still reported with it', async () => {
    const { text, head } = await vacuumResult('partly');
    expect(head).toMatch(/^:warning:/);
    expect(text).toContain(`2,000 dead tuples could not be removed: pid ${holderPid} (demo-app`);
    expect(text).toContain('dead tuples 12000 → 2000'); // the other 10,000 were removed
  }, 40_000);

  it('/db status shows the oldest horizon holder and its age', async () => {
    const text = await ask(tb, 'status demo');
    expect(text).toContain('Oldest xmin horizon holder');
    expect(text).toMatch(new RegExp(`pid ${holderPid} \\(demo-app, user ${role.name}, idle in transaction\\) has held a snapshot for \\d+s`));
    expect(text).toContain(`/db kill demo ${holderPid}`);
    // Estimates are labelled as such.
    expect(text).toMatch(/dead \*≈\d+\* \/ live ≈\d+ .*\(est\.\)/);
  });

  it('once the holder is gone, VACUUM removes them and says ✅', async () => {
    await holder.query('ROLLBACK');
    await holder.end();
    await adminQuery('SELECT 1');
    const { text, head } = await vacuumResult('pinned');
    expect(head).toMatch(/^:white_check_mark:/);
    expect(text).toMatch(/VACUUM public\.pinned: dead tuples \d+ → 0/);
    expect(text).not.toMatch(/could not be removed/);
    const status = await ask(tb, 'status demo');
    expect(status).not.toContain(`pid ${holderPid}`);
  }, 40_000);
});

