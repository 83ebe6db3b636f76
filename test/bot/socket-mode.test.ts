import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeSocketMode } from '../harness/socket-mode.js';
import { FakeSlack } from '../harness/index.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, startTestBot, targetsYaml, textOf, type TestBot, freePort } from '../helpers/bot.js';

let tb: TestBot;
let sock: FakeSocketMode;
let target: Awaited<ReturnType<typeof createTestDatabase>>;


beforeAll(async () => {
  target = await createTestDatabase('socket');
  sock = await FakeSocketMode.start();
  const fake = await FakeSlack.start();
  fake.socketModeUrl = sock.url;
  const port = await freePort();
  tb = await startTestBot({
    fake,
    targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }),
    // An app token switches to Socket Mode; no signing secret is needed then.
    env: { SLACK_APP_TOKEN: 'xapp-1-test', SLACK_SIGNING_SECRET: '', PORT: String(port) },
  });
  await sock.connected();
});
afterAll(async () => {
  await tb?.stop();
  await sock?.close();
  await target?.drop();
});

it('with SLACK_APP_TOKEN the bot takes /db over Socket Mode, and still serves /healthz on PORT', async () => {
  const ack = (await sock.deliver('slash_commands', { command: '/db', text: 'help', user_id: REQUESTER, channel_id: OPS, team_id: 'T0SANDBOX', response_url: tb.fake.responseUrlFor({ channel: OPS, user: REQUESTER }), trigger_id: 't1' })) as { text: string };
  expect(ack.text).toBe('dbops commands');
  await sock.deliver('slash_commands', { command: '/db', text: 'status demo', user_id: REQUESTER, channel_id: OPS, team_id: 'T0SANDBOX', response_url: tb.fake.responseUrlFor({ channel: OPS, user: REQUESTER }), trigger_id: 't2' });
  const reply = await eventually(() => tb.fake.callsOf('response_url')[0], 10_000, 'status reply');
  expect(textOf(reply.args as never)).toMatch(/Connections \(cluster\)/);
  const health = await fetch(`http://127.0.0.1:${tb.env.PORT}/healthz`);
  expect(health.status).toBe(200);
});
