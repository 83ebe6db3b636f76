// User text is shown, never interpreted (issue 9, point 6): mentions and disguised links typed into
// any free-text field — reason, deny note, table names, filters, modal fields — reach Slack escaped
// in every message the bot posts, updates, answers or opens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER2, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// A user who is not an approver: approval cards @-mention the approvers on purpose.
const FORMS = ['<!channel>', '<!here>', '<@U0VICTIM>', '<https://evil.example|click>'];
const HOSTILE = FORMS.join(' ');
// PostgreSQL names (tables, application_name) hold up to 63 bytes: two smaller hostile names.
const TABLE_A = '<!channel> <https://evil.example|click>';
const TABLE_B = '<@U0VICTIM> <!here>';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let appSession: pg.Client;
/** What the bot answered synchronously (slash-command acks), which the fake does not record as calls. */
const acks: unknown[] = [];

beforeAll(async () => {
  target = await createTestDatabase('escape');
  const c = await connect(target.url);
  try {
    for (const t of [TABLE_A, TABLE_B]) await c.query(`CREATE TABLE "${t}" (id int) WITH (autovacuum_enabled = false); INSERT INTO "${t}" SELECT generate_series(1, 100)`);
  } finally {
    await c.end();
  }
  // A session to kill, named like the filter the requester will type.
  appSession = await connect(target.url, TABLE_A);
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  await appSession?.end().catch(() => undefined);
  await tb?.stop();
  await target?.drop();
});

async function slash(text: string, user = REQUESTER) {
  const before = tb.fake.callsOf('response_url').length;
  const res = await tb.wire.slashCommand({ text, userId: user, channelId: OPS });
  if (res.body) {
    acks.push(res.json ?? res.body);
    return textOf(res.json as never);
  }
  const call = await eventually(() => tb.fake.callsOf('response_url')[before], 15_000, `reply to ${text}`);
  return textOf(call.args as never);
}

const runOf = (text: string) => /r_[0-9a-f]{12}/.exec(text)?.[0];
const runState = async (id: string) => (await stateQuery(tb, 'SELECT state FROM runs WHERE id = $1', [id])).rows[0]?.state as string;

/** Every string Slack would read as mrkdwn: `text` fields, except inside plain_text objects. */
function mrkdwnStrings(v: unknown, out: string[] = [], parentType?: unknown): string[] {
  if (Array.isArray(v)) v.forEach((x) => mrkdwnStrings(x, out));
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (k === 'text' && typeof x === 'string') {
        if (o.type !== 'plain_text' && parentType !== 'plain_text') out.push(x);
      } else mrkdwnStrings(x, out, o.type);
    }
  } else if (typeof v === 'string') {
    // The fake records form-encoded args as strings: blocks may arrive as JSON text.
    if (v.startsWith('[') || v.startsWith('{')) {
      try {
        mrkdwnStrings(JSON.parse(v), out);
      } catch {
        /* not JSON */
      }
    }
  }
  return out;
}

const POSTING = new Set(['chat.postMessage', 'chat.postEphemeral', 'chat.update', 'chat.scheduleMessage', 'response_url', 'views.open', 'views.update', 'views.push']);

describe('hostile text in every free-text field', () => {
  it('is escaped in every message the bot sends', async () => {
    // Reason + table name, on a run that executes (request reply, progress, result).
    const queued = await slash(`vacuum demo "${TABLE_A}" --reason "${HOSTILE}"`);
    const vacuumRun = runOf(queued)!;
    expect(vacuumRun).toBeTruthy();
    await eventually(async () => (await runState(vacuumRun)) === 'succeeded', 30_000, 'vacuum ran');

    // Reason + table name on an approval card, denied with a hostile note through the deny modal.
    await slash(`vacuum demo "${TABLE_B}" --full --reason "${HOSTILE}"`);
    const card = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, 'card');
    const cardTs = (card.response as { ts: string }).ts;
    const denied = runOf(JSON.stringify(card.args))!;
    const opens = tb.fake.callsOf('views.open').length;
    await tb.wire.blockActions({ userId: APPROVER2, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_deny', value: denied });
    const open = await eventually(() => tb.fake.callsOf('views.open').slice(opens).find((c) => JSON.stringify(c.args).includes('deny_reason')), 10_000, 'deny modal');
    const denyView = (open.response as { view: { id: string } }).view;
    await tb.wire.viewSubmission({ userId: APPROVER2, view: { ...denyView, state: { values: { reason: { value: { type: 'plain_text_input', value: HOSTILE } } } } } as never });
    await eventually(async () => (await runState(denied)) === 'denied', 10_000, 'denied');
    await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === cardTs && /denied/.test(textOf(c.args as never))), 10_000, 'deny post in the thread');
    await eventually(() => tb.fake.callsOf('chat.postEphemeral').find((c) => c.args.user === REQUESTER && /denied/.test(textOf(c.args as never))), 10_000, 'requester told');

    // Filters: a kill card selected by a hostile application_name; connections filtered by app and user.
    await slash(`kill demo idle --app "${TABLE_A}" --include-superusers --reason "${HOSTILE}"`);
    await eventually(() => tb.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === INCIDENTS && /Terminate 1 session/.test(textOf(c.args as never))).length, 15_000, 'kill card');
    await slash(`connections demo --app "${HOSTILE}"`);
    await slash(`connections demo --user "${HOSTILE}"`);
    await slash(`connections demo --app "${TABLE_A}"`);

    // Errors that echo what was typed.
    for (const text of [
      'status <!channel>',
      'vacuum demo <!here>',
      `vacuum demo "${TABLE_B} x"`,
      'kill demo <@U0VICTIM>',
      'cancel demo <https://evil.example|click>',
      'connections demo --<!here>',
      'connections demo --older-than <!channel>',
      'help <!channel>',
      '<!channel>',
      `kill demo idle --app "${HOSTILE}"`,
    ]) await slash(text);

    // Listings: the denied run's detail (reason, note, error) and the audit log.
    await slash(`run ${denied}`);
    await slash(`run ${vacuumRun}`);
    await slash('runs demo');
    await slash('audit demo');

    // The generic modal: a hostile table and reason come back as an ephemeral error.
    const before = tb.fake.callsOf('views.open').length;
    await tb.wire.slashCommand({ text: 'vacuum demo', userId: REQUESTER, channelId: OPS });
    const modal = await eventually(() => tb.fake.callsOf('views.open')[before], 10_000, 'vacuum modal');
    const view = (modal.response as { view: { id: string } }).view;
    const eph = tb.fake.callsOf('chat.postEphemeral').length;
    await tb.wire.viewSubmission({
      userId: REQUESTER,
      view: { ...view, state: { values: { 'arg:target': { v: { type: 'static_select', selected_option: { value: 'demo' } } }, 'arg:table': { v: { type: 'plain_text_input', value: '"<!channel>"' } }, 'arg:reason': { v: { type: 'plain_text_input', value: HOSTILE } } } } } as never,
    });
    await eventually(() => tb.fake.callsOf('chat.postEphemeral')[eph], 15_000, 'modal error');

    // Let the notifier flush (progress, result, card updates).
    await new Promise((r) => setTimeout(r, 1500));
    const sent = tb.fake.calls.filter((c) => POSTING.has(c.method));
    const all = [...sent.map((c) => ({ where: c.method, strings: mrkdwnStrings(c.args) })), ...acks.map((a) => ({ where: 'ack', strings: mrkdwnStrings(a) }))];
    const leaks = all.flatMap(({ where, strings }) => strings.filter((s) => FORMS.some((f) => s.includes(f))).map((s) => `${where}: ${s.slice(0, 200)}`));
    expect(leaks).toEqual([]);

    // Not vacuous: the hostile text did reach Slack, shown as text.
    const joined = all.flatMap((m) => m.strings).join('\n');
    expect(joined).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;@U0VICTIM&gt; &lt;https://evil.example|click&gt;');
    expect(joined).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(joined).toContain('&lt;@U0VICTIM&gt; &lt;!here&gt;');
    const threadPost = tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === cardTs && /denied/.test(textOf(c.args as never)))!;
    expect(textOf(threadPost.args as never)).toContain('&lt;!channel&gt;');
    // The one mention the bot means stays a mention.
    expect(textOf(threadPost.args as never)).toContain(`<@${REQUESTER}>`);
  }, 120_000);
});
