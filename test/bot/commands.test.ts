import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  target = await createTestDatabase('cmd');
  // A password in the URL: it must never show up in Slack or the logs.
  tb = await startTestBot({
    targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: \${CMD_TARGET_URL}` }),
    env: { CMD_TARGET_URL: target.url.replace('postgres@', 'postgres:s3cr3t-pw-xyz@') },
  });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

async function ack(text: string) {
  const res = await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
  return res;
}

describe('/db grammar on the wire', () => {
  it('help lists every built verb with its risk, and nothing unbuilt', async () => {
    const res = await ack('help');
    expect(res.status).toBe(200);
    const body = JSON.stringify(res.json);
    for (const v of ['status', 'vacuum', 'analyze', 'targets', 'runs', 'audit', 'snapshot', 'snapshots', 'backup verify', 'restore', 'cutover', 'rollback', 'failover', 'readonly', 'scale', 'retention', 'slow', 'bloat', 'indexes', 'replication', 'size']) expect(body).toContain(`/db ${v}`);
    expect(body).toMatch(/change \/ destructive|destructive/);
    // Only what is built is offered: no verb of a later issue.
    expect(body).not.toMatch(/\/db (abort|resume)\b/);
    // Every runbook verb comes with a copyable example, under the heading of its risk.
    for (const v of ['status', 'connections', 'locks', 'vacuum', 'analyze', 'cancel', 'kill']) expect(body).toMatch(new RegExp(`• \\\\?\`/db ${v} `));
    const text = textOf(res.json as never);
    expect(text.slice(text.indexOf('*Read*'), text.indexOf('*Change*'))).toContain('/db status ');
    expect(text.slice(text.indexOf('*Destructive*'))).toContain('/db kill ');
    expect((res.json as { response_type: string }).response_type).toBe('ephemeral');
  });

  it('answers given in the ack are sent as JSON, as Slack requires to show them as messages, in ASCII with the text intact', async () => {
    for (const text of ['help', 'help', 'targets', 'help kill', 'frobnicate demo']) {
      const res = await ack(text);
      expect(res.contentType, text).toMatch(/^application\/json/);
      expect(res.body, text).toMatch(/^[\x20-\x7e]*$/);
      expect((res.json as { response_type: string }).response_type).toBe('ephemeral');
    }
    // The escapes decode to what the renderer wrote (’ and — are not ASCII).
    expect(textOf((await ack('help')).json as never)).toContain('second person’s approval');
  });

  it('help <verb> shows arguments, flags and an example', async () => {
    const body = JSON.stringify((await ack('help vacuum')).json);
    expect(body).toContain('--full');
    expect(body).toContain('--analyze');
    expect(body).toContain('Examples');
    expect(body).toContain('destructive');
  });

  it('targets lists name, engine and environment, never the connection string', async () => {
    const body = JSON.stringify((await ack('targets')).json);
    expect(body).toContain('demo');
    expect(body).toContain('self-hosted');
    expect(body).toContain('staging');
    expect(body).not.toContain('s3cr3t');
    expect(body).not.toContain('127.0.0.1');
  });

  const bad: Array<[string, RegExp]> = [
    ['frobnicate demo', /Unknown command `frobnicate`/],
    // `/db status` alone opens its form with a target picker (test/bot/consistency.test.ts).
    ['run', /`\/db run` needs a run id/],
    ['status nowhere', /Unknown target `nowhere`.*demo/],
    ['vacuum demo orders --fuul', /Unknown flag `--fuul`.*--full/],
    ['vacuum demo "unterminated', /quote is not closed/],
    ['status demo --long-running 10x', /not a duration/],
    ['x'.repeat(3000), /limit is 2000/],
    ['status démo-🔥', /Unknown target/],
    ['status demo\u0000', /control characters/],
    ['status demo extra args here', /Too many arguments/],
  ];
  for (const [text, want] of bad) {
    it(`refuses ${JSON.stringify(text.slice(0, 30))} with a clear ephemeral error within 3 s`, async () => {
      const res = await ack(text);
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(3000);
      const j = res.json as { response_type: string; text: string };
      expect(j.response_type).toBe('ephemeral');
      expect(j.text).toMatch(want);
      expect(JSON.stringify(j)).not.toMatch(/at .*\.js:\d+|Error:/);
    });
  }

  it('bad signature and stale timestamp are rejected with 401 and have no side effect', async () => {
    const body = new URLSearchParams({ command: '/db', text: 'analyze demo', user_id: REQUESTER, channel_id: OPS, response_url: 'http://127.0.0.1:1/x', trigger_id: 't' }).toString();
    const badSig = await tb.wire.post(body, { signature: 'v0=' + '0'.repeat(64) });
    expect(badSig.status).toBe(401);
    const stale = await tb.wire.post(body, { timestampSec: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    const n = (await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE runbook = 'analyze'`)).rows[0].n;
    expect(n).toBe(0);
    expect(tb.fake.callsOf('response_url')).toHaveLength(0);
  });

  it('a target that is unreachable gets a clear message within seconds', async () => {
    const tb2 = await startTestBot({
      targets: targetsYaml({ down: `environment: staging\nengine: self-hosted\nurl: postgres://postgres:hunter2-secret@127.0.0.1:1/nothing` }),
    });
    try {
      const started = Date.now();
      await tb2.wire.slashCommand({ text: 'status down', userId: REQUESTER, channelId: OPS });
      const call = await tb2.fake.waitForCall('response_url', undefined, 10_000);
      expect(Date.now() - started).toBeLessThan(8000);
      const text = textOf(call.args as never);
      expect(text).toMatch(/Could not connect to target down/);
      expect(text).not.toContain('hunter2');
      expect(tb2.logs.join('')).not.toContain('hunter2');
    } finally {
      await tb2.stop();
    }
  });

  it('no secret appears in any recorded Slack call or log line', async () => {
    await ack('status demo');
    await tb.fake.waitForCall('response_url', undefined, 10_000);
    expect(JSON.stringify(tb.fake.calls)).not.toContain('s3cr3t');
    expect(tb.logs.join('')).not.toContain('s3cr3t');
  });
});
