import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bloatedTable, createTestDatabase } from '../helpers/db.js';
import { ask, eventually, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// A step that fails on a connection error: Slack gets the user message, never the host or port.
let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

const HOSTS: Array<[string, RegExp]> = [
  ['postgres://dbops@db-internal-7f3a.invalid:5432/app', /db-internal|7f3a|getaddrinfo/],
  ['postgres://dbops@127.0.0.1:1/app', /127\.0\.0\.1:1\b|connect ECONNREFUSED/],
];

beforeAll(async () => {
  target = await createTestDatabase('steperr');
  await bloatedTable(target.url, 't1', 1000);
  await bloatedTable(target.url, 't2', 1000);
  // Web only: runs are planned against the real target and stay queued until the bot restarts.
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), start: { role: 'web' } });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

it('a step failing with ENOTFOUND / ECONNREFUSED shows the user message in the thread and /db run; the detail is only in the logs', async () => {
  const good = targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` });
  for (const [i, [url, leak]] of HOSTS.entries()) {
    const table = `t${i + 1}`;
    if (i > 0) {
      writeFileSync(tb.targetsPath, good);
      await tb.restart({ role: 'web' });
    }
    await tb.wire.slashCommand({ text: `vacuum demo ${table}`, userId: REQUESTER, channelId: OPS });
    const { id } = await eventually(async () => (await stateQuery(tb, `SELECT id FROM runs WHERE args->>'table' = $1 AND state = 'queued'`, [table])).rows[0], 10_000, 'queued run');
    // The database moved (or DNS broke) between the request and its execution.
    writeFileSync(tb.targetsPath, targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${url}` }));
    const logsBefore = tb.logs.length;
    await tb.restart({ role: 'all' });
    const run = await eventually(async () => (await stateQuery(tb, `SELECT state, error FROM runs WHERE id = $1 AND state = 'failed'`, [id])).rows[0], 30_000, 'run failed');
    expect(run.error).toMatch(/Could not connect to target demo/);
    const step = (await stateQuery(tb, `SELECT error FROM run_steps WHERE run_id = $1 AND state = 'failed'`, [id])).rows[0];
    expect(step.error).toMatch(/Could not connect to target demo/);
    expect(step.error).not.toMatch(leak);

    const failure = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts && textOf(c.args as never).includes(id) && /failed/.test(textOf(c.args as never))), 15_000, 'failure message in the thread');
    expect(textOf(failure.args as never)).toMatch(/Could not connect/);
    const detail = await ask(tb, `run ${id}`);
    expect(detail).toMatch(/Could not connect to target demo/);
    for (const shown of [textOf(failure.args as never), detail]) expect(shown).not.toMatch(leak);
    // Operators still get what happened (the logs are redacted of secrets, not of diagnostics).
    expect(tb.logs.slice(logsBefore).join('')).toMatch(i === 0 ? /ENOTFOUND/ : /ECONNREFUSED/);
  }
  // Nothing the bot ever sent to Slack names either host.
  const everything = tb.fake.calls.map((c) => JSON.stringify(c.args)).join('\n');
  for (const [, leak] of HOSTS) expect(everything).not.toMatch(leak);
}, 90_000);
