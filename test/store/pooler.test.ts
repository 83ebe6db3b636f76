// The state database through PgBouncer in transaction mode (the README's "through a pooler"):
// replicas migrating at once, and approvals racing on the same rows, stay correct when consecutive
// transactions run on different server connections. Skipped when pgbouncer is not installed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrations.js';
import { APPROVER, APPROVER2, ask, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { havePgbouncer, startPgbouncer, type Bouncer } from '../helpers/pgbouncer.js';

describe.skipIf(!havePgbouncer)('state database behind PgBouncer (pool_mode = transaction)', () => {
  let bouncer: Bouncer;
  const dbs: Array<Awaited<ReturnType<typeof createTestDatabase>>> = [];
  beforeAll(async () => {
    bouncer = await startPgbouncer({ poolSize: 3 });
  });
  afterAll(async () => {
    await bouncer?.stop();
    for (const d of dbs) await d.drop();
  });

  it('four replicas migrating a fresh database at once: each migration applied exactly once', async () => {
    const db = await createTestDatabase('bouncer_mig');
    dbs.push(db);
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: bouncer.urlFor(db.name), max: 2 }));
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p)));
      const rows = (await pools[0]!.query<{ id: number; n: number }>('SELECT id, count(*)::int AS n FROM schema_migrations GROUP BY id ORDER BY id')).rows;
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      // One replica did the work, the others found it done.
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
      expect(applied.flat().sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('the bot on a pooled state DB: approvals race per row, every run executes once, the audit chain holds', async () => {
    const state = await createTestDatabase('bouncer_state');
    const target = await createTestDatabase('bouncer_target');
    dbs.push(state, target);
    const c = await connect(target.url);
    for (let i = 0; i < 8; i++) await c.query(`CREATE TABLE t${i} (id int); INSERT INTO t${i} SELECT generate_series(1, 50)`);
    await c.end();
    const pooled = { name: state.name, url: bouncer.urlFor(state.name), drop: async () => undefined };
    let tb: TestBot | undefined;
    try {
      tb = await startTestBot({
        stateDb: pooled,
        targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nmaxDestructiveRuns: 20` }),
        env: { DBOPS_CREATE_DATABASE: 'false' },
      });
      const t = tb;
      await Promise.all(Array.from({ length: 8 }, (_, i) => t.wire.slashCommand({ text: `vacuum demo t${i} --full`, userId: REQUESTER, channelId: OPS })));
      const cards = await eventually(() => {
        const posted = t.fake.callsOf('chat.postMessage').filter((x) => x.args.channel === INCIDENTS && /Approval needed/.test(textOf(x.args as never)));
        return posted.length >= 8 && posted;
      }, 30_000, '8 approval cards');
      // Two approvers click every card at once: the row lock decides, one approval per run counts.
      await Promise.all(cards.flatMap((card) => {
        const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
        const ts = (card.response as { ts: string }).ts;
        return [APPROVER, APPROVER2].map((u) => t.wire.blockActions({ userId: u, channelId: INCIDENTS, messageTs: ts, actionId: 'approval_approve', value: runId }));
      }));
      const runs = await eventually(async () => {
        const r = (await stateQuery(t, `SELECT id, state, attempts FROM runs WHERE runbook = 'vacuum'`)).rows;
        return r.length === 8 && r.every((x) => x.state === 'succeeded' || x.state === 'failed') && r;
      }, 60_000, 'all 8 runs finished');
      expect(runs.filter((r) => r.state !== 'succeeded')).toEqual([]);
      expect(runs.every((r) => r.attempts === 1)).toBe(true);
      const steps = (await stateQuery(t, `SELECT run_id, idx, count(*)::int AS n FROM run_steps GROUP BY run_id, idx HAVING count(*) > 1`)).rows;
      expect(steps).toEqual([]);
      expect(await ask(t, 'audit verify')).toMatch(/Audit chain verified/);
    } finally {
      await tb?.stop();
    }
  }, 120_000);
});
