// Issue 10, "Consistency": what the bot shows agrees with itself and with the run's state, typos get
// a suggestion, a verb without its target opens its form, catalogs are not vacuumed by accident.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../src/runbooks/index.js';
import { bloatedTable, connect, createTestDatabase } from '../helpers/db.js';
import { APPROVER, ask, eventually, INCIDENTS, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
const yaml = () => targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` });

async function targetQuery(sql: string, params: unknown[] = []) {
  const c = await connect(target.url);
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  target = await createTestDatabase('consist');
  await bloatedTable(target.url, 'orders', 4000);
  await bloatedTable(target.url, 'doomed', 500);
  tb = await startTestBot({ targets: yaml() });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

type View = { id: string; callback_id: string; title: { text: string }; private_metadata: string; blocks: Array<{ block_id?: string; type: string; optional?: boolean; label?: { text: string }; element?: { options?: Array<{ value: string }>; initial_option?: unknown } }> };

/** `/db <text>` that must open a modal; returns the view as the fake stored it. */
async function openModal(text: string): Promise<View> {
  const before = tb.fake.callsOf('views.open').length;
  const res = await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
  expect(res.status).toBe(200);
  const open = await eventually(() => tb.fake.callsOf('views.open')[before], 10_000, `modal for ${text}`);
  return (open.response as { view: View }).view;
}

const ICON_RUNNING = ':arrows_counterclockwise:';
const lastUpdateOf = (ts: string) => textOf(tb.fake.callsOf('chat.update').filter((c) => c.args.ts === ts).at(-1)?.args as never);

/** The thread of a run's request message: its progress message's ts and its result post. */
async function runThread(runId: string, resultPattern: RegExp) {
  const head = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.channel === OPS && !c.args.thread_ts && JSON.stringify(c.args).includes(runId)), 20_000, 'request message');
  const headTs = (head.response as { ts: string }).ts;
  const progress = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === headTs), 20_000, 'progress message');
  const result = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === headTs && resultPattern.test(textOf(c.args as never))), 60_000, 'result');
  return { progressTs: (progress.response as { ts: string }).ts, result: textOf(result.args as never) };
}

describe('progress, durations, sizes', () => {
  it('a finished run: the progress icon is ✅ (not 🔄), one duration everywhere, pages agree with the size', async () => {
    const queued = await ask(tb, 'vacuum demo orders');
    const runId = /r_[0-9a-z]+/.exec(queued)![0];
    const { progressTs, result } = await runThread(runId, /dead tuples/i);
    await eventually(() => /finished/.test(lastUpdateOf(progressTs)), 10_000, 'final progress update');
    const last = lastUpdateOf(progressTs);
    expect(last).toContain(':white_check_mark:');
    expect(last).not.toContain(ICON_RUNNING);

    // The headline's "in …", a Duration fact when the runbook has one, and the final progress line: one number.
    const headline = /\(in ([^)]+)\)/.exec(result)?.[1];
    expect(headline).toBeDefined();
    expect(last).toContain(`finished in ${headline}`);
    const fact = /\*Duration\*\n([^\n]+)/.exec(result)?.[1];
    if (fact !== undefined) expect(fact).toBe(headline);

    // Pages are the table's pages now, as its size says (not pg_class.relpages, stale before a VACUUM).
    const pages = /\*Pages\*\n[≈~]?([\d,]+)\s*→\s*[≈~]?([\d,]+)/.exec(result);
    expect(pages, result).not.toBeNull();
    const now = (await targetQuery(`SELECT pg_relation_size('orders') / current_setting('block_size')::int AS p`)).rows[0].p;
    expect(Number(pages![2]!.replace(/,/g, ''))).toBe(Number(now));
    expect(Number(pages![1]!.replace(/,/g, ''))).toBeGreaterThan(0);
  });

  it('a failed run: the progress icon is ❌, never 🔄', async () => {
    await tb.restart({ role: 'web' });
    const queued = await ask(tb, 'vacuum demo doomed');
    const runId = /r_[0-9a-z]+/.exec(queued)![0];
    // The table goes away between the request and its execution: the first step fails.
    await targetQuery('DROP TABLE doomed');
    await tb.restart({ role: 'all' });
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'failed'`, [runId])).rowCount, 30_000, 'run failed');
    const head = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.channel === OPS && !c.args.thread_ts && JSON.stringify(c.args).includes(runId)), 10_000, 'request message');
    const headTs = (head.response as { ts: string }).ts;
    const progressTs = ((tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === headTs)!.response) as { ts: string }).ts;
    await eventually(() => /failed/.test(lastUpdateOf(progressTs)), 10_000, 'final progress update');
    const last = lastUpdateOf(progressTs);
    expect(last).toContain(':x:');
    expect(last).not.toContain(ICON_RUNNING);
  });
});

describe('did you mean', () => {
  for (const [text, want] of [
    ['stauts demo', /Unknown command `stauts`\. Did you mean `status`\?/],
    ['tragets', /Did you mean `targets`\?/],
    ['status dmeo', /Unknown target `dmeo`\. Did you mean `demo`\? Known targets: demo/],
    ['runs dmeo', /Did you mean `demo`\?/],
    ['vacuum demo orders --fulll', /Unknown flag `--fulll`.*Did you mean `--full`\?/],
  ] as const) {
    it(`/db ${text}`, async () => {
      const res = await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
      const j = res.json as { response_type: string; text: string };
      expect(j.response_type).toBe('ephemeral');
      expect(j.text).toMatch(want);
    });
  }

  it('nothing close: no suggestion, the list as before', async () => {
    const j = (await tb.wire.slashCommand({ text: 'frobnicate demo', userId: REQUESTER, channelId: OPS })).json as { text: string };
    expect(j.text).toMatch(/Unknown command `frobnicate`\. Try `\/db help`/);
    expect(j.text).not.toContain('Did you mean');
  });
});

describe('a verb without its target opens its form with a target picker', () => {
  const verbs = defaultRegistry().verbs();

  for (const verb of verbs) {
    it(`/db ${verb}`, async () => {
      const view = await openModal(verb);
      expect(view.title.text).toBe(`/db ${verb}`);
      const picker = view.blocks.find((b) => b.block_id === 'arg:target');
      expect(picker?.element?.options?.map((o) => o.value)).toEqual(['demo']);
      // Nothing chosen for them: the target is the one decision the form asks for.
      expect(picker?.element?.initial_option).toBeUndefined();
    });
  }

  it('flags typed before the form opened are kept in it', async () => {
    const view = await openModal('status --long-running 10m --reason "why not"');
    const values = JSON.stringify(view.blocks);
    expect(values).toContain('"initial_value":"10m"');
    expect(values).toContain('"initial_value":"why not"');
  });

  it('a read submitted from the form is answered ephemerally in the channel, through the same grammar', async () => {
    const view = await openModal('status');
    const submit = (values: Record<string, unknown>) => tb.wire.viewSubmission({ userId: REQUESTER, view: { ...view, state: { values } } as never });
    // The grammar still decides: a target the file does not list is refused on its field.
    const refused = (await submit({ 'arg:target': { value: { type: 'static_select', selected_option: { value: 'nowhere' } } } })).json as { errors?: Record<string, string> };
    expect(refused.errors?.['arg:target']).toMatch(/Unknown target `nowhere`/);

    const posts = tb.fake.callsOf('chat.postMessage').length;
    const before = tb.fake.callsOf('chat.postEphemeral').length;
    const ok = await submit({ 'arg:target': { value: { type: 'static_select', selected_option: { value: 'demo' } } }, 'arg:long-running': { value: { type: 'plain_text_input', value: '7m' } } });
    expect(ok.status).toBe(200);
    const eph = await eventually(() => tb.fake.callsOf('chat.postEphemeral').slice(before).find((c) => c.args.channel === OPS && c.args.user === REQUESTER), 15_000, 'ephemeral status');
    expect(textOf(eph.args as never)).toMatch(/demo/);
    // The form's --long-running went through the grammar (7m → 420 s) into the run's args.
    const run = (await stateQuery(tb, `SELECT args FROM runs WHERE runbook = 'status' ORDER BY created_at DESC LIMIT 1`)).rows[0];
    expect(run.args['long-running']).toBe(420);
    expect(tb.fake.callsOf('chat.postMessage').slice(posts).filter((c) => c.args.channel === OPS)).toHaveLength(0);
  });
});

describe('kill and deny modals', () => {
  it('the kill modal has --database, and what it says reaches the plan', async () => {
    const view = await openModal('kill demo');
    const db = view.blocks.find((b) => b.block_id === 'arg:database');
    expect(db?.label?.text).toBe('Database');
    expect(db?.optional).toBe(true);

    // A session of the target's database to find (idle, not a superuser's: superusers are left alone unless asked).
    const c = await connect(target.url);
    try {
      await c.query("SET application_name = 'consist-idle'");
      const before = tb.fake.callsOf('chat.postMessage').length;
      const res = await tb.wire.viewSubmission({
        userId: REQUESTER,
        view: {
          ...view,
          state: {
            values: {
              'arg:target': { kill_preview: { type: 'static_select', selected_option: { value: 'demo' } } },
              'arg:selector': { kill_preview: { type: 'static_select', selected_option: { value: 'idle' } } },
              'arg:app': { kill_preview: { type: 'plain_text_input', value: 'consist-idle' } },
              'arg:database': { kill_preview: { type: 'plain_text_input', value: target.name } },
              'flags:bool': { kill_preview: { type: 'checkboxes', selected_options: [{ value: 'include-superusers' }] } },
            },
          },
        } as never,
      });
      expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
      const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((m) => m.args.channel === INCIDENTS && /Approval needed/.test(textOf(m.args as never))), 15_000, 'approval card');
      expect(textOf(card.args as never)).toContain(`database ${target.name}`);

      // Deny opens the reason modal: Slack appends "(optional)" to an optional input's label itself.
      const runId = /r_[0-9a-z]{6,40}/.exec(JSON.stringify(card.args))![0];
      const opened = tb.fake.callsOf('views.open').length;
      await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_deny', value: runId });
      const deny = (await eventually(() => tb.fake.callsOf('views.open')[opened], 10_000, 'deny modal')).response as { view: View };
      const reason = deny.view.blocks.find((b) => b.block_id === 'reason')!;
      expect(reason.optional).toBe(true);
      expect(reason.label?.text).toBe('Reason');
      expect(JSON.stringify(deny.view)).not.toMatch(/\(optional\)/i);
    } finally {
      await c.end();
    }
  });
});

describe('catalog tables', () => {
  for (const table of ['pg_catalog.pg_class', 'information_schema.sql_features', 'pg_statistic']) {
    it(`vacuum ${table} is refused without --catalog`, async () => {
      const text = await ask(tb, `vacuum demo ${table}`);
      expect(text).toMatch(/system catalog table/);
      expect(text).toContain('--catalog');
    });
  }

  it('with --catalog it is planned and runs', async () => {
    const text = await ask(tb, 'vacuum demo pg_catalog.pg_statistic --catalog');
    expect(text).toMatch(/Queued `r_[0-9a-z]+`/);
    const runId = /r_[0-9a-z]+/.exec(text)![0];
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [runId])).rowCount, 30_000, 'catalog vacuum');
  });
});
