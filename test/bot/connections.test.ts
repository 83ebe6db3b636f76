import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig, startBot } from '../../src/index.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { connectAs, createTestRole, pidOf } from '../postgres/support.js';
import { APPROVER, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot, ask as askBot } from '../helpers/bot.js';
import { Writable } from 'node:stream';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let open: pg.Client[] = [];

async function session(app: string, opts: { superuser?: boolean } = {}): Promise<{ c: pg.Client; pid: number }> {
  const c = opts.superuser ? await connect(target.url, app) : await connectAs(target.url, role.name, app);
  open.push(c);
  return { c, pid: await pidOf(c) };
}

async function alive(pids: number[]): Promise<number[]> {
  const c = await connect(target.url, 'checker');
  try {
    const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE pid = ANY($1)', [pids]);
    return r.rows.map((x) => x.pid).sort((a, b) => a - b);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  target = await createTestDatabase('conn');
  role = await createTestRole('app');
  const c = await connect(target.url);
  await c.query(`CREATE TABLE items (id int PRIMARY KEY, n int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g; GRANT ALL ON items TO "${role.name}"`);
  await c.end();
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nprotected: { apps: [pgbouncer] }`,
      tiny: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nmaxSessions: 2`,
    }),
  });
});
afterEach(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  open = [];
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
  await role?.drop();
});

const ask = (text: string) => askBot(tb, text);

/** Requests a kill, approves it as the approver, and waits for the run to finish; returns its result text. */
async function killAndApprove(text: string): Promise<{ runId: string; result: string }> {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
  const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  const cardTs = (card.response as { ts: string }).ts;
  await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_approve', value: runId });
  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [runId])).rowCount, 20_000, 'kill run');
  const result = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === cardTs && /^Done:/.test(String(c.args.text))), 10_000, 'result');
  return { runId, result: textOf(result.args as never) };
}

describe('inspect', () => {
  it('/db connections groups sessions and lists the matching ones; filters narrow them', async () => {
    await session('web-1');
    await session('web-1');
    const tx = await session('batch');
    await tx.c.query('BEGIN; SELECT 1');
    const all = await ask('connections demo');
    expect(all).toMatch(/\*\d+\* session\(s\) on this database · max_connections \*\d+\*/);
    expect(all).toContain('`web-1` *2*');
    expect(all).toContain('idle in transaction');
    expect(all).toContain(String(tx.pid));
    const narrowed = await ask('connections demo --state idle-in-transaction --app batch');
    expect(narrowed).toContain('*1* session(s)');
    expect(narrowed).toContain(String(tx.pid));
    expect(narrowed).not.toContain('web-1');
  });

  it('/db locks shows the chain, root blocker first, with lock mode and relation', async () => {
    const holder = await session('holder');
    await holder.c.query('BEGIN; UPDATE items SET n = 1 WHERE id = 1');
    const waiter = await session('waiter');
    const pending = waiter.c.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE').catch((e) => e);
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [waiter.pid])).rowCount, 5000, 'waiter blocked');
    const text = await ask('locks demo');
    expect(text).toContain(`Root blocker ${holder.pid} — blocks 1 session(s)`);
    expect(text).toMatch(new RegExp(`pid ${waiter.pid} waits for AccessExclusiveLock on public.items`));
    await holder.c.query('ROLLBACK');
    await pending;
    await waiter.c.query('ROLLBACK');
  });
});

describe('kill', () => {
  it('kill idle: exactly the idle sessions die; protected, superuser, busy and bot sessions live', async () => {
    const idle1 = await session('web');
    const idle2 = await session('worker');
    const tx = await session('batch');
    await tx.c.query('BEGIN; SELECT 1');
    const busy = await session('report');
    const busyQuery = busy.c.query('SELECT pg_sleep(30)').catch(() => undefined);
    const protectedApp = await session('pgbouncer');
    const superuser = await session('psql-admin', { superuser: true });
    const botLike = await session('dbops');
    const { result } = await killAndApprove('kill demo idle');
    expect(result).toMatch(/Terminated 2 of 2 approved session/);
    expect(await alive([idle1.pid, idle2.pid])).toEqual([]);
    expect(await alive([tx.pid, busy.pid, protectedApp.pid, superuser.pid, botLike.pid])).toEqual([tx.pid, busy.pid, protectedApp.pid, superuser.pid, botLike.pid].sort((a, b) => a - b));
    await adminQuery('SELECT pg_cancel_backend($1)', [busy.pid]);
    await busyQuery;
  });

  it('kill idle-in-transaction --older-than only takes the old ones', async () => {
    const old = await session('batch');
    await old.c.query('BEGIN; SELECT 1');
    await new Promise((r) => setTimeout(r, 2200));
    const young = await session('batch');
    await young.c.query('BEGIN; SELECT 1');
    const idle = await session('web');
    await killAndApprove('kill demo idle-in-transaction --older-than 2s');
    expect(await alive([old.pid])).toEqual([]);
    expect(await alive([young.pid, idle.pid])).toHaveLength(2);
  });

  it('kill blockers ends the root blocker and the blocked query proceeds', async () => {
    const holder = await session('holder');
    await holder.c.query('BEGIN; UPDATE items SET n = 2 WHERE id = 2');
    const waiter = await session('waiter');
    const done = waiter.c.query('UPDATE items SET n = 3 WHERE id = 2');
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [waiter.pid])).rowCount, 5000, 'waiter blocked');
    await killAndApprove('kill demo blockers');
    expect(await alive([holder.pid])).toEqual([]);
    await expect(done).resolves.toBeDefined();
    expect(await alive([waiter.pid])).toEqual([waiter.pid]);
  });

  it('kill all takes every client session except protected apps, superusers and the bot', async () => {
    const a = await session('web');
    const b = await session('worker');
    const tx = await session('batch');
    await tx.c.query('BEGIN; SELECT 1');
    const keepApp = await session('pgbouncer');
    const keepSu = await session('admin', { superuser: true });
    const { result } = await killAndApprove('kill demo all');
    expect(result).toMatch(/Terminated 3 of 3/);
    expect(await alive([a.pid, b.pid, tx.pid])).toEqual([]);
    expect(await alive([keepApp.pid, keepSu.pid])).toHaveLength(2);
  });

  it('kill <pids> with --include-superusers takes a superuser session when named', async () => {
    const su = await session('admin', { superuser: true });
    const other = await session('web');
    await killAndApprove(`kill demo ${su.pid} --include-superusers`);
    expect(await alive([su.pid])).toEqual([]);
    expect(await alive([other.pid])).toEqual([other.pid]);
  });

  it('refuses plans over maxSessions with how to narrow or raise it', async () => {
    await session('w');
    await session('w');
    await session('w');
    expect(await ask('kill tiny idle')).toMatch(/over this target's cap of 2.*--older-than.*maxSessions/);
  });

  it('cancel needs no approval, cancels the running query, and leaves the session connected', async () => {
    const s = await session('report');
    const q = s.c.query('SELECT pg_sleep(30)').then(() => 'finished', (e: { code?: string }) => e.code);
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [s.pid])).rowCount, 5000, 'query running');
    await ask(`cancel demo ${s.pid}`);
    expect(await q).toBe('57014');
    expect(await alive([s.pid])).toEqual([s.pid]);
    // The query dies when the signal lands; the run is marked done just after.
    const run = await eventually(async () => (await stateQuery(tb, `SELECT state, result->>'headline' AS h FROM runs WHERE runbook = 'cancel' AND state IN ('succeeded', 'failed')`)).rows[0], 10_000, 'cancel run finished');
    expect(run.state).toBe('succeeded');
    expect(run.h).toMatch(/Cancelled 1 of 1/);
  });

  for (const [text, want] of [
    ['kill demo abc', /`abc` is not a pid/],
    ['kill demo -5', /`-5` is not a pid/],
    ['kill demo 99999999999', /`99999999999` is not a pid/],
    ['kill demo 12 idle', /`idle` is not a pid/],
    ['kill demo idle --older-than 10x', /not a duration/],
    ['kill demo idle --force', /Unknown flag `--force`/],
    ['cancel demo idle', /`idle` is not a pid/],
  ] as const) {
    it(`bad input: ${text}`, async () => {
      const res = await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
      const msg = res.json ? JSON.stringify(res.json) : textOf((await tb.fake.waitForCall('response_url')).args as never);
      expect(msg).toMatch(want);
    });
  }
});

describe('the plan is the list', () => {
  it('between approval and execution: closed sessions are "already gone", new ones (even on reused pids) survive', async () => {
    // A separate deployment (own state DB and Redis prefix) whose web role takes the approval; the run
    // waits in the queue until its worker starts.
    const soloDb = await createTestDatabase('solo');
    const soloEnv = { ...process.env, ...tb.env, DATABASE_URL: soloDb.url, DBOPS_QUEUE_PREFIX: `${tb.env.DBOPS_QUEUE_PREFIX}-solo` };
    const quiet = () => createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const solo = (sql: string, params: unknown[]) => stateQuery({ stateDb: soloDb } as TestBot, sql, params);
    const web = await startBot(loadConfig(soloEnv), { role: 'web', logger: quiet() });
    const { SlackWire } = await import('../harness/index.js');
    const wire = new SlackWire({ botUrl: `${web.url}/slack/events`, signingSecret: 'test-signing-secret-0123456789', fake: tb.fake });
    try {
      const victims = [await session('web'), await session('web'), await session('web')];
      const before = tb.fake.callsOf('chat.postMessage').length;
      await wire.slashCommand({ text: 'kill demo idle --app web', userId: REQUESTER, channelId: OPS });
      const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
      expect(textOf(card.args as never)).toContain(String(victims[0]!.pid));
      const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
      await wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
      await eventually(async () => (await solo( `SELECT 1 FROM runs WHERE id = $1 AND state = 'queued'`, [runId])).rowCount, 10_000, 'queued');
      // Close the approved sessions, open new ones with the same app (pids may be reused).
      for (const v of victims.splice(0, 2)) await v.c.end();
      open = open.filter((c) => victims.some((v) => v.c === c));
      const newcomers = [await session('web'), await session('web'), await session('web')];
      const worker = await startBot(loadConfig(soloEnv), { role: 'worker', logger: quiet() });
      try {
        await eventually(async () => (await solo( `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [runId])).rowCount, 20_000, 'run done');
      } finally {
        await worker.stop();
      }
      const result = (await solo( `SELECT result->>'headline' AS h FROM runs WHERE id = $1`, [runId])).rows[0].h;
      expect(result).toMatch(/Terminated 1 of 3 approved session\(s\); 2 already gone, 0 refused/);
      expect(await alive([victims[0]!.pid])).toEqual([]);
      const survivors = newcomers.map((n) => n.pid).sort((a, b) => a - b);
      expect(await alive(survivors)).toEqual(survivors);
    } finally {
      await web.stop();
      await soloDb.drop();
    }
  });
});

describe('modal', () => {
  it('/db kill <target> opens a modal with a live preview; submitting posts the approval card', async () => {
    await session('web');
    await session('web');
    const before = tb.fake.callsOf('views.open').length;
    await tb.wire.slashCommand({ text: 'kill demo', userId: REQUESTER, channelId: OPS });
    const open1 = await eventually(() => tb.fake.callsOf('views.open')[before], 10_000, 'modal');
    const view = (open1.response as { view: { id: string; hash: string; blocks: Array<{ block_id: string }> } }).view;
    expect(view.blocks.map((b) => b.block_id)).toEqual(expect.arrayContaining(['arg:target', 'arg:selector', 'arg:older-than', 'preview']));
    // Choosing "idle" refreshes the preview through views.update.
    const values = {
      'arg:target': { kill_preview: { type: 'static_select', selected_option: { value: 'demo' } } },
      'arg:selector': { kill_preview: { type: 'static_select', selected_option: { value: 'idle' } } },
      'arg:app': { kill_preview: { type: 'plain_text_input', value: 'web' } },
    };
    const upBefore = tb.fake.callsOf('views.update').length;
    // What the user entered so far travels in the view's state, as Slack sends it.
    await tb.wire.blockActions({ userId: REQUESTER, viewId: view.id, actionId: 'kill_preview', blockId: 'arg:selector', action: { type: 'static_select', selected_option: { value: 'idle' } }, viewState: { values } });
    const update = await eventually(() => tb.fake.callsOf('views.update')[upBefore], 10_000, 'preview update');
    const previewText = textOf((update.args as { view: never }).view);
    expect(previewText).toMatch(/Matching now: 2 sessions/);
    const current = tb.fake.views.get(view.id)!.view as { id: string };
    const cardsBefore = tb.fake.callsOf('chat.postMessage').length;
    const res = await tb.wire.viewSubmission({ userId: REQUESTER, view: { ...current, state: { values } } as never });
    expect(res.status).toBe(200);
    const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(cardsBefore).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
    expect(textOf(card.args as never)).toMatch(/Terminate 2 sessions \(idle sessions \(app web\)\)/);
  });
});
