import { afterAll, beforeAll, expect, it } from 'vitest';
import { bloatedTable, connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER, clickApprove, eventually, OPS, REQUESTER, requestApproval, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// The requester of an approval-gated run is told what became of it, and approvers are @-mentioned.
let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  target = await createTestDatabase('notice');
  await bloatedTable(target.url, 'orders', 2000);
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}`,
      quiet: `environment: staging\nengine: self-hosted\nurl: ${target.url}\nmentionApprovers: false`,
    }),
  });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

const requestFull = (targetName: string) => requestApproval(tb, `vacuum ${targetName} orders --full`);

/** Ephemerals the requester got about one run, in the channel they asked from. */
const notices = (runId: string) =>
  tb.fake
    .callsOf('chat.postEphemeral')
    .filter((c) => c.args.user === REQUESTER && c.args.channel === OPS && JSON.stringify(c.args).includes(runId))
    .map((c) => textOf(c.args as never));

it('approved → started → finished: the requester hears each, with who approved and the thread link; the card mentions approvers and stops asking', async () => {
  const { runId, cardTs, cardText } = await requestFull('demo');
  // Users and user groups are mentioned so they are notified; the bot does not mention the requester as approver.
  expect(cardText).toContain(`<@${APPROVER}>`);
  expect(cardText).toContain('<!subteam^S0DBAS>');

  await clickApprove(tb, runId, cardTs);
  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [runId])).rowCount, 30_000, 'run succeeded');
  const seen = await eventually(() => {
    const n = notices(runId);
    return n.some((t) => /finished/.test(t)) && n;
  }, 10_000, 'finished notice');
  const approved = seen.find((t) => /was approved by/.test(t));
  expect(approved).toContain(`<@${APPROVER}>`);
  expect(seen.some((t) => /has started/.test(t))).toBe(true);
  const finished = seen.find((t) => /finished/.test(t))!;
  expect(finished).toMatch(/VACUUM FULL public\.orders/);
  expect(finished).toMatch(/<https?:\/\/[^|>]+\|Progress thread>/);

  // The decided card no longer says "Approval needed" and no longer pings anyone (its last update
  // may still be on its way through the channel's lane when the notice arrives).
  const lastText = await eventually(() => {
    const last = tb.fake.callsOf('chat.update').filter((c) => c.args.ts === cardTs).at(-1);
    const t = last ? `${String(last.args.text)}\n${textOf(last.args as never)}` : '';
    return /succeeded/.test(t) && t;
  }, 10_000, 'card shows the outcome');
  expect(lastText).not.toMatch(/Approval needed/);
  expect(lastText).not.toContain('<!subteam^S0DBAS>');
  expect(lastText).toMatch(/succeeded/);
});

it('a failed run tells the requester why', async () => {
  const { runId, cardTs } = await requestFull('demo');
  // Someone holds the table when the approved VACUUM FULL starts: it fails on lock_timeout.
  const c = await connect(target.url);
  try {
    await c.query('BEGIN');
    // SHARE lets the approval re-plan (it reads the table) but blocks the rewrite.
    await c.query('LOCK TABLE orders IN SHARE MODE');
    await clickApprove(tb, runId, cardTs);
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'failed'`, [runId])).rowCount, 40_000, 'run failed on the lock');
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
  const failed = await eventually(() => notices(runId).find((t) => /failed/.test(t)), 10_000, 'failed notice');
  expect(failed).toMatch(/lock/i);
  expect(failed).toContain(`/db run ${runId}`);
}, 60_000);

it('an expired request tells the requester; mentionApprovers: false mentions nobody', async () => {
  const { runId, cardText } = await requestFull('quiet');
  expect(cardText).not.toContain(`<@${APPROVER}>`);
  expect(cardText).not.toContain('<!subteam^');
  await stateQuery(tb, `UPDATE runs SET expires_at = now() - interval '1 second' WHERE id = $1`, [runId]);
  const expired = await eventually(() => notices(runId).find((t) => /expired/.test(t)), 15_000, 'expired notice');
  expect(expired).toMatch(/nobody approved it within 30 min\. Nothing was run/);
});
