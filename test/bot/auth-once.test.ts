import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { OPS, REQUESTER, startTestBot, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// Bolt 5.1 calls auth.test before every handler when token verification is off; dbops asks once.
let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  target = await createTestDatabase('auth');
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

it('100 commands cause at most one auth.test call, and every one is answered', async () => {
  const texts = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 'targets' : i % 3 === 1 ? 'help' : 'help vacuum'));
  const answers = await Promise.all(texts.map((text) => tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS })));
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(textOf(a.json as never)).toMatch(/dbops|Targets|vacuum/);
  }
  expect(tb.fake.callsOf('auth.test').length).toBeLessThanOrEqual(1);
});
