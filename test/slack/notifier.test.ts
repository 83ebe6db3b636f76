import { Writable } from 'node:stream';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Notifier } from '../../src/slack/notifier.js';
import { FakeSlack } from '../harness/index.js';

let fake: FakeSlack;
const quiet = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });

beforeAll(async () => {
  fake = await FakeSlack.start();
});
afterAll(async () => {
  await fake.close();
});

const client = () => new WebClient('xoxb-test', { slackApiUrl: fake.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });

it('a burst of 500 progress events: ≤ 1 call/s per channel, the final value shown, nothing blocks the caller', async () => {
  fake.reset();
  const n = new Notifier(client(), quiet);
  const ts = await n.post('C0BURST', { text: 'progress 0' });
  expect(ts).toBeDefined();
  const started = Date.now();
  for (let i = 1; i <= 500; i++) {
    void n.update('C0BURST', ts!, { text: `progress ${i}` });
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 600));
  }
  // The producer was never blocked: 500 events took only the sleeps above.
  expect(Date.now() - started).toBeLessThan(3500);
  await n.idle();
  const calls = fake.calls.filter((c) => c.args.channel === 'C0BURST');
  for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(950);
  expect(calls.length).toBeLessThan(10);
  const last = fake.messagesIn('C0BURST').find((m) => m.ts === ts);
  expect(last?.text).toBe('progress 500');
}, 30_000);

it('honours Retry-After on 429 for that channel only, and still delivers', async () => {
  fake.reset();
  const n = new Notifier(client(), quiet, { minIntervalMs: 100 });
  fake.rateLimitNext('chat.postMessage', 2);
  const t0 = Date.now();
  const [a, b] = await Promise.all([n.post('C0LIMITED', { text: 'after the limit' }), (async () => {
    await new Promise((r) => setTimeout(r, 50));
    return n.post('C0OTHER', { text: 'other channel' });
  })()]);
  expect(a).toBeDefined();
  expect(b).toBeDefined();
  const limited = fake.callsOf('chat.postMessage').filter((c) => c.args.channel === 'C0LIMITED');
  expect(limited.map((c) => c.status)).toEqual([429, 200]);
  expect(limited[1]!.at - limited[0]!.at).toBeGreaterThanOrEqual(1900);
  // The other channel was not held up by the first one's Retry-After.
  const other = fake.callsOf('chat.postMessage').find((c) => c.args.channel === 'C0OTHER')!;
  expect(other.at - t0).toBeLessThan(1000);
});

it('chat.update stays under the workspace-wide Tier 3 rate across channels', async () => {
  fake.reset();
  const n = new Notifier(client(), quiet, { minIntervalMs: 100, updateIntervalMs: 600 });
  const channels = ['C0A', 'C0B', 'C0C'];
  const ts = await Promise.all(channels.map((c) => n.post(c, { text: 'start' })));
  for (let i = 1; i <= 3; i++) channels.forEach((c, k) => void n.update(c, ts[k]!, { text: `v${i}` }));
  await n.idle();
  const updates = fake.callsOf('chat.update');
  for (let i = 1; i < updates.length; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(550);
  // Coalesced: each channel's message shows its latest value.
  for (const [k, c] of channels.entries()) expect(fake.messagesIn(c).find((m) => m.ts === ts[k])?.text).toBe('v3');
});
