import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackWire } from '../harness/index.js';
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
  SIGNING_SECRET,
  startTestBot,
  stateQuery,
  targetsYaml,
  textOf,
  type TestBot,
} from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
const PASSWORD = 'pw-Zq9-never-shown';

async function targetQuery(sql: string) {
  const c = await connect(target.url);
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  target = await createTestDatabase('approve');
  await targetQuery(`CREATE TABLE orders (id int, note text) WITH (autovacuum_enabled = false); INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 5000) g; DELETE FROM orders WHERE id % 2 = 0`);
  const url = target.url.replace('postgres@', `postgres:${PASSWORD}@`);
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: staging\nengine: self-hosted\nurl: ${url}`,
      quorum: `environment: production\nengine: self-hosted\nurl: ${url}\npolicy:\n  approvals: { destructive: 2 }`,
      strict: `environment: production\nengine: self-hosted\nurl: ${url}\npolicy:\n  environments:\n    production: { change: approval }`,
    }),
  });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

/** Requests a destructive VACUUM FULL and returns the run id and its approval card. */
async function requestFull(targetName = 'demo', wire = tb.wire) {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await wire.slashCommand({ text: `vacuum ${targetName} orders --full --reason "bloat after backfill"`, userId: REQUESTER, channelId: OPS });
  const card = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)) && tb.fake.calls.indexOf(c) >= 0 && tb.fake.callsOf('chat.postMessage').indexOf(c) >= before);
  const cardTs = (card.response as { ts: string }).ts;
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  // The requester's ephemeral "waiting" reply arrives after the card: wait so later replies are not confused with it.
  await tb.fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId));
  return { runId, cardTs, card };
}

async function click(user: string, runId: string, cardTs: string, action: 'approval_approve' | 'approval_deny' = 'approval_approve', wire = tb.wire) {
  const before = tb.fake.callsOf('response_url').length;
  const res = await wire.blockActions({ userId: user, channelId: INCIDENTS, messageTs: cardTs, actionId: action, value: runId });
  expect(res.status).toBe(200);
  expect(res.ms).toBeLessThan(3000);
  if (action === 'approval_deny') return '';
  const reply = await eventually(() => tb.fake.callsOf('response_url').slice(before).find((c) => (c.args as { text?: string }).text), 15_000, 'ephemeral reply');
  return textOf(reply.args as never);
}

const runState = async (id: string) => (await stateQuery(tb, 'SELECT state FROM runs WHERE id = $1', [id])).rows[0]?.state as string;

describe('two-person approval', () => {
  it('posts a card with the exact plan and tells the requester where it is', async () => {
    const { card, runId } = await requestFull();
    const text = textOf(card.args as never);
    expect(text).toContain('VACUUM (FULL) "public"."orders"');
    expect(text).toContain('bloat after backfill');
    expect(text).toContain('ACCESS EXCLUSIVE');
    expect(text).toMatch(/Expires/);
    expect(JSON.stringify(card.args)).toContain('approval_approve');
    const eph = await tb.fake.waitForCall('response_url', (c) => /Waiting for approval/.test(textOf(c.args as never)));
    expect(textOf(eph.args as never)).toMatch(/archives\/C0INCIDENTS/);
    expect(await runState(runId)).toBe('pending_approval');
  });

  it('refuses the requester, non-approvers, and group members when the group lookup fails', async () => {
    const { runId, cardTs } = await requestFull();
    expect(await click(REQUESTER, runId, cardTs)).toMatch(/cannot approve it: a second person must/);
    // Lookup failures first: a successful lookup is cached for a minute.
    tb.fake.usergroupsError = 'plan_upgrade_required';
    expect(await click(GROUP_MEMBER, runId, cardTs)).toMatch(/not an approver/);
    expect(await click(OUTSIDER, runId, cardTs)).toMatch(/not an approver/);
    tb.fake.usergroupsError = undefined;
    expect(await runState(runId)).toBe('pending_approval');
    // A user-group member is accepted once the lookup works.
    expect(await click(GROUP_MEMBER, runId, cardTs)).toMatch(/Approved/);
    await eventually(async () => (await runState(runId)) === 'succeeded', 30_000, 'run succeeded');
    // Card updated in place: buttons gone, approver named; announcement + result in its thread, broadcast.
    const cardUpdate = await eventually(() => tb.fake.callsOf('chat.update').filter((c) => c.args.ts === cardTs).at(-1), 10_000, 'card update');
    expect(JSON.stringify(cardUpdate.args)).not.toContain('approval_approve');
    expect(textOf(cardUpdate.args as never)).toContain(`<@${GROUP_MEMBER}>`);
    const thread = tb.fake.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === cardTs);
    const announce = thread.find((c) => /starting on demo/.test(textOf(c.args as never)));
    expect(String(announce?.args.reply_broadcast)).toBe('true');
    expect(textOf(announce!.args as never)).toMatch(/Expected duration/);
    // "Finished with a warning" when another test file's replication slot (cluster-wide) pins the horizon meanwhile.
    const result = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === cardTs && /^(Done|Finished with a warning):/.test(String(c.args.text))), 10_000, 'result');
    expect(String(result.args.reply_broadcast)).toBe('true');
    const approvals = await stateQuery(tb, 'SELECT approver, decision FROM approvals WHERE run_id = $1', [runId]);
    expect(approvals.rows).toEqual([{ approver: GROUP_MEMBER, decision: 'approve' }]);
  });

  it('refuses an expired request, and the scheduled sweep expires others on its own', async () => {
    const a = await requestFull();
    await stateQuery(tb, `UPDATE runs SET expires_at = now() - interval '1 second' WHERE id = $1`, [a.runId]);
    // The sweep may win the race; either way the click is refused and nothing runs.
    expect(await click(APPROVER, a.runId, a.cardTs)).toMatch(/expired/);
    expect(await runState(a.runId)).toBe('expired');

    const b = await requestFull();
    await stateQuery(tb, `UPDATE runs SET expires_at = now() - interval '1 second' WHERE id = $1`, [b.runId]);
    await eventually(async () => (await runState(b.runId)) === 'expired', 10_000, 'sweep expired the request');
    await eventually(() => tb.fake.callsOf('chat.update').some((c) => c.args.ts === b.cardTs && /expired/.test(textOf(c.args as never))), 10_000, 'card shows expired');
    const audit = await stateQuery(tb, `SELECT actor FROM audit WHERE run_id = $1 AND action = 'expire'`, [b.runId]);
    expect(audit.rows).toEqual([{ actor: 'dbops' }]);
  });

  it('refuses when the plan facts changed since the request', async () => {
    const { runId, cardTs } = await requestFull();
    // Same name, different table (new oid): the approval must not carry over.
    await targetQuery(`ALTER TABLE orders RENAME TO orders_old; CREATE TABLE orders (id int) WITH (autovacuum_enabled = false)`);
    try {
      expect(await click(APPROVER, runId, cardTs)).toMatch(/changed since it was requested/);
      expect(await runState(runId)).toBe('refused');
      await eventually(() => tb.fake.callsOf('chat.update').some((c) => c.args.ts === cardTs && /plan changed — request again/.test(textOf(c.args as never))), 10_000, 'card says plan changed');
    } finally {
      await targetQuery(`DROP TABLE orders; ALTER TABLE orders_old RENAME TO orders`);
    }
  });

  it('deny asks for a reason, records it, updates the card, tells the requester, and nothing runs', async () => {
    const { runId, cardTs } = await requestFull();
    await click(APPROVER, runId, cardTs, 'approval_deny');
    const open = await tb.fake.waitForCall('views.open', (c) => JSON.stringify(c.args).includes(runId));
    const view = (open.response as { view: { id: string } }).view;
    const res = await tb.wire.viewSubmission({ userId: APPROVER, view: { ...view, state: { values: { reason: { value: { type: 'plain_text_input', value: 'not during peak' } } } } } as never });
    expect(res.status).toBe(200);
    await eventually(async () => (await runState(runId)) === 'denied', 10_000, 'denied');
    const row = (await stateQuery(tb, 'SELECT decision, reason FROM approvals WHERE run_id = $1', [runId])).rows[0];
    expect(row).toEqual({ decision: 'deny', reason: 'not during peak' });
    await eventually(() => tb.fake.callsOf('chat.update').some((c) => c.args.ts === cardTs && /denied by <@U0APPROVER>: not during peak/.test(textOf(c.args as never))), 10_000, 'card denied');
    await eventually(() => tb.fake.callsOf('chat.postEphemeral').some((c) => c.args.user === REQUESTER && /was denied/.test(textOf(c.args as never))), 10_000, 'requester told');
    // A later approve is refused and no step ever started.
    expect(await click(APPROVER2, runId, cardTs)).toMatch(/already denied/);
    expect((await stateQuery(tb, 'SELECT count(*)::int AS n FROM run_steps WHERE run_id = $1', [runId])).rows[0].n).toBe(0);
  });

  it('a quorum of 2 needs two distinct approvers', async () => {
    const { runId, cardTs } = await requestFull('quorum');
    expect(await click(APPROVER, runId, cardTs)).toMatch(/1 more approval/);
    expect(await click(APPROVER, runId, cardTs)).toMatch(/already approved/);
    expect(await runState(runId)).toBe('pending_approval');
    expect(await click(APPROVER2, runId, cardTs)).toMatch(/Approved/);
    await eventually(async () => (await runState(runId)) === 'succeeded', 30_000, 'quorum run succeeded');
  });

  it('policy can make "change" plans need approval in production', async () => {
    await tb.wire.slashCommand({ text: 'analyze strict', userId: REQUESTER, channelId: OPS });
    const card = await tb.fake.waitForCall('chat.postMessage', (c) => c.args.channel === INCIDENTS && /ANALYZE the whole database on strict/.test(textOf(c.args as never)));
    const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
    expect(await runState(runId)).toBe('pending_approval');
  });

  it('20 concurrent Approve clicks across two bot instances enqueue and run exactly once', async () => {
    // A second replica: same state database, same Redis prefix, same targets file.
    const { loadConfig, startBot, createLogger } = await import('../../src/index.js');
    const { Writable } = await import('node:stream');
    const other = await startBot(loadConfig({ ...process.env, ...tb.env }), { role: 'web', logger: createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }) });
    try {
      const wire2 = new SlackWire({ botUrl: `${other.url}/slack/events`, signingSecret: SIGNING_SECRET, fake: tb.fake });
      const { runId, cardTs } = await requestFull();
      const users = [APPROVER, APPROVER2, GROUP_MEMBER];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? wire2 : tb.wire).blockActions({ userId: users[i % 3]!, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_approve', value: runId }),
        ),
      );
      await eventually(async () => (await runState(runId)) === 'succeeded', 30_000, 'run succeeded');
      await new Promise((r) => setTimeout(r, 1500));
      const audit = (await stateQuery(tb, `SELECT action FROM audit WHERE run_id = $1`, [runId])).rows.map((r) => r.action);
      expect(audit.filter((a) => a === 'queue')).toHaveLength(1);
      expect(audit.filter((a) => a === 'start')).toHaveLength(1);
      expect(audit.filter((a) => a === 'finish')).toHaveLength(1);
      expect(audit.filter((a) => a === 'approve')).toHaveLength(1);
      const steps = (await stateQuery(tb, `SELECT max(attempts)::int AS a FROM run_steps WHERE run_id = $1`, [runId])).rows[0];
      expect(steps.a).toBe(1);
    } finally {
      await other.stop();
    }
  });

  it('a pending approval survives a bot restart', async () => {
    const { runId, cardTs } = await requestFull();
    await tb.restart();
    expect(await click(APPROVER, runId, cardTs)).toMatch(/Approved/);
    await eventually(async () => (await runState(runId)) === 'succeeded', 30_000, 'run after restart');
  });

  it('never shows the target password in Slack or the logs', async () => {
    expect(JSON.stringify(tb.fake.calls)).not.toContain(PASSWORD);
    expect(tb.logs.join('')).not.toContain(PASSWORD);
  });
});
