import type pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase } from '../helpers/db.js';
import { alivePids, connectAs, createTestRole, pidOf } from '../postgres/support.js';
import { clickApprove, eventually, requestApproval, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// A busy pool churns between request and approval: the approval binds to the approved list and
// acts on approved ∩ still matching; new sessions are never included.
let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let open: pg.Client[] = [];

async function session(app: string): Promise<{ c: pg.Client; pid: number }> {
  const c = await connectAs(target.url, role.name, app);
  open.push(c);
  return { c, pid: await pidOf(c) };
}

const request = (text: string) => requestApproval(tb, text);

async function approve(runId: string, cardTs: string): Promise<string> {
  const before = tb.fake.callsOf('response_url').length;
  await clickApprove(tb, runId, cardTs);
  return textOf((await eventually(() => tb.fake.callsOf('response_url')[before], 15_000, 'approval answer')).args as never);
}

const state = async (runId: string) => (await stateQuery(tb, `SELECT state, result->>'headline' AS headline FROM runs WHERE id = $1`, [runId])).rows[0];

beforeAll(async () => {
  target = await createTestDatabase('drift');
  role = await createTestRole('pool');
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
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

it('one approved session ended and two new ones appeared: approved, the card says so, only the approved ones still there die', async () => {
  const approved = [await session('churn'), await session('churn'), await session('churn')];
  const { runId, cardTs } = await request('kill demo idle --app churn');
  await approved[0]!.c.end();
  const newcomers = [await session('churn'), await session('churn')];

  const answer = await approve(runId, cardTs);
  expect(answer).toMatch(/Approved/);
  expect(answer).toMatch(/1 of 3 already gone; 2 new sessions not included — request again to include them/);
  await eventually(() => tb.fake.callsOf('chat.update').some((c) => c.args.ts === cardTs && /1 of 3 already gone; 2 new sessions not included/.test(textOf(c.args as never))), 10_000, 'drift on the card');
  await eventually(async () => (await state(runId)).state === 'succeeded', 20_000, 'kill run');
  expect((await state(runId)).headline).toMatch(/Terminated 2 of 3 approved session\(s\); 1 already gone, 0 refused/);
  expect(await alivePids(approved.slice(1).map((s) => s.pid))).toEqual([]);
  const survivors = newcomers.map((n) => n.pid).sort((a, b) => a - b);
  expect(await alivePids(survivors)).toEqual(survivors);
  // The card keeps the note after the run updated it; /db run shows it with the approval.
  const lastCard = tb.fake.callsOf('chat.update').filter((c) => c.args.ts === cardTs).at(-1)!;
  expect(textOf(lastCard.args as never)).toMatch(/1 of 3 already gone/);
  const audit = (await stateQuery(tb, `SELECT detail->>'drift' AS drift FROM audit WHERE run_id = $1 AND action = 'approve'`, [runId])).rows;
  expect(audit).toEqual([{ drift: '1 of 3 already gone; 2 new sessions not included — request again to include them' }]);
});

it('an approved session that no longer matches the selection (now busy) is left alone', async () => {
  const approved = [await session('busy'), await session('busy')];
  const { runId, cardTs } = await request('kill demo idle --app busy');
  // One of them starts working: it is no longer "idle", so the approval does not cover killing it.
  void approved[0]!.c.query('SELECT pg_sleep(20)').catch(() => undefined);
  await eventually(async () => {
    const c = await connect(target.url, 'checker');
    try {
      return (await c.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [approved[0]!.pid])).rowCount;
    } finally {
      await c.end();
    }
  }, 5000, 'session busy');
  expect(await approve(runId, cardTs)).toMatch(/1 of 2 already gone/);
  await eventually(async () => (await state(runId)).state === 'succeeded', 20_000, 'kill run');
  expect(await alivePids([approved[0]!.pid])).toEqual([approved[0]!.pid]);
  expect(await alivePids([approved[1]!.pid])).toEqual([]);
});

it('every approved session gone: the approval is refused, nothing runs', async () => {
  const approved = [await session('gone'), await session('gone')];
  const { runId, cardTs } = await request('kill demo idle --app gone');
  for (const s of approved) await s.c.end();
  await session('gone'); // a newcomer is not a reason to kill anything
  expect(await approve(runId, cardTs)).toMatch(/all 2 approved sessions are already gone/);
  expect((await state(runId)).state).toBe('refused');
});
