// Every door as strict as the slash command (issue 9, point 5): forged but signed interactions,
// sent on the wire exactly as Slack would, must not do what `/db` itself would refuse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { FakeSlack } from '../harness/index.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import {
  APPROVER,
  APPROVER2,
  eventually,
  GROUP_MEMBER,
  INCIDENTS,
  OPS,
  OUTSIDER,
  REQUESTER,
  startTestBot,
  stateQuery,
  targetsYaml,
  textOf,
  type TestBot,
} from '../helpers/bot.js';

const SECRET = 'C0SECRET';
const GROUP = 'S0DBAS';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

async function targetQuery(sql: string) {
  const c = await connect(target.url);
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  target = await createTestDatabase('doors');
  await targetQuery(`CREATE TABLE orders (id int, note text) WITH (autovacuum_enabled = false); INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 2000) g; DELETE FROM orders WHERE id % 2 = 0`);
  // The bot may post in SECRET (it is a channel Slack knows): only the bot's own choice keeps it out.
  const fake = await FakeSlack.start({ channels: { [OPS]: 'ops', [INCIDENTS]: 'incidents', [SECRET]: 'secret' }, usergroups: { [GROUP]: [GROUP_MEMBER] } });
  tb = await startTestBot({ fake, targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

type View = { id: string; callback_id: string; private_metadata: string; blocks: Array<{ block_id?: string }> };
const sel = (value: string) => ({ v: { type: 'static_select', selected_option: { value } } });
const txt = (value: string) => ({ v: { type: 'plain_text_input', value } });
const runsCount = async (where = 'true', params: unknown[] = []) => (await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE ${where}`, params)).rows[0].n as number;
const runState = async (id: string) => (await stateQuery(tb, 'SELECT state FROM runs WHERE id = $1', [id])).rows[0]?.state as string;
const settle = () => new Promise((r) => setTimeout(r, 1500));

/** `/db <text>` that opens a modal; returns the view Slack stored. */
async function openModal(text: string, user = REQUESTER): Promise<View> {
  const before = tb.fake.callsOf('views.open').length;
  await tb.wire.slashCommand({ text, userId: user, channelId: OPS });
  const open = await eventually(() => tb.fake.callsOf('views.open')[before], 10_000, `modal for ${text}`);
  return (open.response as { view: View }).view;
}

async function submit(view: Partial<View> & { id: string }, values: Record<string, unknown>, user = REQUESTER) {
  const res = await tb.wire.viewSubmission({ userId: user, view: { ...view, state: { values } } as never });
  const ack = (res.json ?? {}) as { response_action?: string; errors?: Record<string, string> };
  return { res, ack };
}

/** Takes real metadata and points it at another channel and verb, the way an attacker would edit it. */
function forgeChannel(meta: string): string {
  try {
    return JSON.stringify({ ...JSON.parse(meta), verb: 'connections', channel: SECRET });
  } catch {
    const [body, mac] = meta.split('.');
    const data = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
    return `${Buffer.from(JSON.stringify({ ...data, verb: 'connections', channel: SECRET })).toString('base64url')}.${mac}`;
  }
}

async function requestFull() {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await tb.wire.slashCommand({ text: 'vacuum demo orders --full --reason "doors"', userId: REQUESTER, channelId: OPS });
  const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
  const cardTs = (card.response as { ts: string }).ts;
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  await tb.fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId));
  return { runId, cardTs };
}

/** A click as Slack sends it; returns the ephemeral answer's text ('' when none came). */
async function click(o: { user: string; value: string; channel?: string; ts?: string; message?: Record<string, unknown>; action?: 'approval_approve' | 'approval_deny'; quiet?: boolean }) {
  const before = tb.fake.callsOf('response_url').length;
  const res = await tb.wire.blockActions({ userId: o.user, channelId: o.channel ?? INCIDENTS, ...(o.ts ? { messageTs: o.ts } : {}), ...(o.message ? { message: o.message } : {}), actionId: o.action ?? 'approval_approve', value: o.value });
  expect(res.status).toBe(200);
  // A Deny that opens its dialog answers nothing.
  if (o.quiet) return '';
  const reply = await eventually(() => tb.fake.callsOf('response_url').slice(before).find((c) => (c.args as { text?: string }).text), 15_000, 'ephemeral reply').catch(() => undefined);
  return reply ? textOf(reply.args as never) : '';
}

describe('modal submissions go through the /db grammar', () => {
  let sleeper: pg.Client;
  let pid: number;
  beforeAll(async () => {
    sleeper = await connect(target.url, 'sleeper');
    pid = (await sleeper.query('SELECT pg_backend_pid() AS p')).rows[0].p;
  });
  afterAll(async () => {
    await sleeper.end().catch(() => undefined);
  });

  it('cancel with an extra `database` field is refused and nothing is recorded; the same form without it runs', async () => {
    const running = sleeper.query('SELECT pg_sleep(30)').catch((e: Error) => e.message);
    await eventually(async () => (await targetQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active'`)).rowCount, 5000, 'sleeper active');
    const view = await openModal('cancel demo');
    // The test's session is a superuser's: the form's own option includes it.
    const superusers = { 'flags:bool': { v: { type: 'checkboxes', selected_options: [{ value: 'include-superusers' }] } } };
    const forged = await submit(view, { 'arg:target': sel('demo'), 'arg:what': txt(String(pid)), ...superusers, 'arg:database': txt(target.name) });
    expect(forged.ack.response_action).toBe('errors');
    expect(JSON.stringify(forged.ack.errors)).toMatch(/database/);
    await settle();
    expect(await runsCount(`runbook = 'cancel'`)).toBe(0);
    expect((await targetQuery(`SELECT state FROM pg_stat_activity WHERE pid = ${pid}`)).rows[0]?.state).toBe('active');

    // Control: what the form really offers still works (the door is strict, not shut).
    const ok = await submit(view, { 'arg:target': sel('demo'), 'arg:what': txt(String(pid)), ...superusers });
    expect(ok.ack.response_action).toBeUndefined();
    expect(await running).toMatch(/canceling statement/);
    await eventually(async () => (await runsCount(`runbook = 'cancel' AND state = 'succeeded'`)) === 1, 15_000, 'cancel ran');
  }, 60_000);

  it('a flag the runbook does not declare, an undeclared bool option or an unknown block is refused', async () => {
    const view = await openModal('vacuum demo');
    const before = await runsCount();
    for (const values of [
      { 'arg:target': sel('demo'), 'arg:table': txt('orders'), 'arg:full': txt('yes') },
      { 'arg:target': sel('demo'), 'arg:table': txt('orders'), 'flags:bool': { v: { type: 'checkboxes', selected_options: [{ value: 'include-superusers' }] } } },
      { 'arg:target': sel('demo'), 'arg:table': txt('orders'), 'something:else': txt('x') },
      // Same rule as `/db vacuum demo a b`: one table, not two.
      { 'arg:target': sel('demo'), 'arg:table': txt('orders other') },
    ]) {
      const { ack } = await submit(view, values);
      expect(ack.response_action, JSON.stringify(values)).toBe('errors');
    }
    await settle();
    expect(await runsCount()).toBe(before);
  });

  it('the kill modal accepts only its own fields', async () => {
    const view = await openModal('kill demo');
    const before = await runsCount();
    // (--database is a kill field since issue 10; --state belongs to /db connections, not here.)
    const { ack } = await submit(view, { 'arg:target': sel('demo'), 'arg:selector': sel('idle'), 'arg:state': txt('idle') });
    expect(ack.response_action).toBe('errors');
    const bad = await submit(view, { 'arg:target': sel('demo'), 'arg:selector': sel('all; DROP'), 'arg:reason': txt('x') });
    expect(bad.ack.response_action).toBe('errors');
    await settle();
    expect(await runsCount()).toBe(before);
  });

  it('durations are parsed as /db parses them', async () => {
    const view = await openModal('kill demo');
    const { ack } = await submit(view, { 'arg:target': sel('demo'), 'arg:selector': sel('idle'), 'arg:older-than': txt('10 minutes') });
    expect(ack.errors?.['arg:older-than']).toMatch(/not a duration/);
  });
});

describe('private_metadata is the bot’s own or refused', () => {
  it('metadata naming another channel (plain or edited from a real modal) posts nothing there', async () => {
    const real = await openModal('vacuum demo');
    const before = await runsCount();
    const forgedPlain = JSON.stringify({ verb: 'connections', channel: SECRET, user: REQUESTER });
    for (const meta of [forgedPlain, forgeChannel(real.private_metadata)]) {
      const { ack } = await submit({ ...real, private_metadata: meta }, { 'arg:target': sel('demo') });
      expect(ack.response_action).toBe('errors');
    }
    await settle();
    const inSecret = tb.fake.calls.filter((c) => (c.args as { channel?: string }).channel === SECRET);
    expect(inSecret).toEqual([]);
    expect(await runsCount()).toBe(before);
  });

  it('a modal opened by one user cannot be submitted by another', async () => {
    const view = await openModal('vacuum demo');
    const before = await runsCount();
    const { ack } = await submit(view, { 'arg:target': sel('demo'), 'arg:table': txt('orders') }, OUTSIDER);
    expect(ack.response_action).toBe('errors');
    await settle();
    expect(await runsCount()).toBe(before);
  });

  it('a deny modal whose run id was not sealed by the bot denies nothing', async () => {
    const { runId, cardTs } = await requestFull();
    const { ack } = await submit({ id: 'V0FORGEDDENY', callback_id: 'deny_reason', private_metadata: JSON.stringify({ runId }), blocks: [{ block_id: 'reason' }] }, { reason: txt('forged') }, APPROVER);
    expect(ack.response_action).toBe('errors');
    // A real deny modal opened by one approver, submitted as another.
    const opens = tb.fake.callsOf('views.open').length;
    await click({ user: APPROVER, value: runId, ts: cardTs, action: 'approval_deny', quiet: true });
    const open = await eventually(() => tb.fake.callsOf('views.open').slice(opens).find((c) => JSON.stringify(c.args).includes('deny_reason')), 10_000, 'deny modal');
    const denyView = (open.response as { view: View }).view;
    const other = await submit(denyView, { reason: txt('not mine') }, APPROVER2);
    expect(other.ack.response_action).toBe('errors');
    await settle();
    expect(await runState(runId)).toBe('pending_approval');
  });
});

describe('free text is bounded', () => {
  it('a 1,000,000-character reason is refused (or cut off at the edge) and never stored', async () => {
    const view = await openModal('vacuum demo');
    const before = await runsCount();
    const { res, ack } = await submit(view, { 'arg:target': sel('demo'), 'arg:table': txt('orders'), 'arg:reason': txt('a'.repeat(1_000_000)) });
    if (res.status === 200) expect(ack.errors?.['arg:reason']).toMatch(/limit is 500/);
    // Just over the modal's own max_length: refused the same way, whatever the HTTP edge allows.
    const just = await submit(view, { 'arg:target': sel('demo'), 'arg:table': txt('orders'), 'arg:reason': txt('b'.repeat(501)) });
    expect(just.ack.errors?.['arg:reason']).toMatch(/limit is 500/);
    await settle();
    expect(await runsCount()).toBe(before);
    expect(await runsCount('length(reason) > 500')).toBe(0);
  });

  it('an argument value far beyond any name is refused in the modal', async () => {
    const view = await openModal('vacuum demo');
    const { ack } = await submit(view, { 'arg:target': sel('demo'), 'arg:table': txt('x'.repeat(10_000)) });
    expect(ack.errors?.['arg:table']).toMatch(/too long/);
  });

  it('a deny note over 500 characters is refused, the request stays pending', async () => {
    const { runId, cardTs } = await requestFull();
    const opens = tb.fake.callsOf('views.open').length;
    await click({ user: APPROVER, value: runId, ts: cardTs, action: 'approval_deny', quiet: true });
    const open = await eventually(() => tb.fake.callsOf('views.open').slice(opens).find((c) => JSON.stringify(c.args).includes('deny_reason')), 10_000, 'deny modal');
    const view = (open.response as { view: View }).view;
    const { ack } = await submit(view, { reason: txt('n'.repeat(100_000)) }, APPROVER);
    expect(ack.errors?.reason).toMatch(/limit is 500/);
    await settle();
    expect(await runState(runId)).toBe('pending_approval');
    expect((await stateQuery(tb, 'SELECT count(*)::int AS n FROM approvals WHERE run_id = $1', [runId])).rows[0].n).toBe(0);
  });
});

describe('a decision counts only on the run’s own card, by a person', () => {
  it('Approve naming run B on run A’s card, or on a message that is not a card, is refused', async () => {
    const a = await requestFull();
    const b = await requestFull();
    expect(await click({ user: APPROVER, value: b.runId, ts: a.cardTs })).toMatch(/not on the approval card/);
    const notACard = { type: 'message', ts: '1700000000.000100', user: REQUESTER, text: 'hello', blocks: [] };
    expect(await click({ user: APPROVER, value: b.runId, channel: OPS, ts: notACard.ts, message: notACard })).toMatch(/not on the approval card/);
    // Deny the same way opens no dialog.
    const opens = tb.fake.callsOf('views.open').length;
    expect(await click({ user: APPROVER, value: b.runId, ts: a.cardTs, action: 'approval_deny' })).toMatch(/not on the approval card/);
    expect(tb.fake.callsOf('views.open').length).toBe(opens);
    await settle();
    expect(await runState(b.runId)).toBe('pending_approval');
    expect(await runState(a.runId)).toBe('pending_approval');
    expect((await stateQuery(tb, 'SELECT count(*)::int AS n FROM approvals WHERE run_id = ANY($1)', [[a.runId, b.runId]])).rows[0].n).toBe(0);
  });

  it('a user-group id as the clicking or requesting user is refused', async () => {
    const { runId, cardTs } = await requestFull();
    expect(await click({ user: GROUP, value: runId, ts: cardTs })).toMatch(/Only a Slack user/);
    await settle();
    expect(await runState(runId)).toBe('pending_approval');
    const before = await runsCount();
    const res = await tb.wire.slashCommand({ text: 'vacuum demo orders', userId: GROUP, channelId: OPS });
    expect(textOf(res.json as never)).toMatch(/Only a Slack user/);
    await settle();
    expect(await runsCount()).toBe(before);
  });

  it('group membership is looked up at approval time, not served from the minute-long cache', async () => {
    const first = await requestFull();
    expect(await click({ user: GROUP_MEMBER, value: first.runId, ts: first.cardTs })).toMatch(/Approved/);
    // Removed from the group seconds later: the next approval must see it.
    tb.fake.usergroups.set(GROUP, []);
    try {
      const second = await requestFull();
      expect(await click({ user: GROUP_MEMBER, value: second.runId, ts: second.cardTs })).toMatch(/not an approver/);
      await settle();
      expect(await runState(second.runId)).toBe('pending_approval');
    } finally {
      tb.fake.usergroups.set(GROUP, [GROUP_MEMBER]);
    }
    await eventually(async () => (await runState(first.runId)) === 'succeeded', 30_000, 'first run finished');
  });
});
