// Bull Board at /admin/queues: not served without credentials, 401 without them, read-only unless
// DBOPS_ADMIN_WRITE=true (enforced by the server, not only hidden in the UI).
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { startTestBot, targetsYaml, type TestBot } from '../helpers/bot.js';

const TOKEN = 'admin-token-0123456789abcdef';
const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

let target: Awaited<ReturnType<typeof createTestDatabase>>;
let ro: TestBot;
let rw: TestBot;
const queues: Queue[] = [];

beforeAll(async () => {
  target = await createTestDatabase('admin');
  const targets = targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` });
  // Web role only: no worker takes the jobs this test puts in the queue.
  ro = await startTestBot({ targets, env: { DBOPS_ADMIN_TOKEN: TOKEN, DBOPS_ADMIN_USER: USER, DBOPS_ADMIN_PASSWORD: PASSWORD }, start: { role: 'web' } });
  rw = await startTestBot({ targets, env: { DBOPS_ADMIN_TOKEN: TOKEN, DBOPS_ADMIN_WRITE: 'true' }, start: { role: 'web' } });
}, 60_000);
afterAll(async () => {
  for (const q of queues) await q.close();
  await ro?.stop();
  await rw?.stop();
  await target?.drop();
});

/** A job far in the future in the bot's runs queue (nothing executes it). */
async function parkedJob(tb: TestBot, id: string) {
  const q = new Queue('runs', { connection: { host: '127.0.0.1', port: 6379 }, prefix: tb.env.DBOPS_QUEUE_PREFIX });
  queues.push(q);
  await q.add('run', { runId: id }, { jobId: id, delay: 3600_000 });
  return q;
}

it('is not served at all without credentials configured (404)', async () => {
  const none = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), start: { role: 'web' } });
  try {
    expect((await fetch(`${none.bot.url}/admin/queues`)).status).toBe(404);
    expect((await fetch(`${none.bot.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  } finally {
    await none.stop();
  }
});

it('401 without or with wrong credentials; 200 with the token, the cookie it sets, or basic auth', async () => {
  const url = `${ro.bot.url}/admin/queues`;
  const bare = await fetch(url);
  expect(bare.status).toBe(401);
  expect(bare.headers.get('www-authenticate')).toMatch(/^Basic/);
  expect((await fetch(`${url}/api/queues`)).status).toBe(401);
  expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
  expect((await fetch(url, { headers: { authorization: basic(USER, 'wrong-password!') } })).status).toBe(401);
  expect((await fetch(`${url}?token=wrong-token-wrong-token`, { redirect: 'manual' })).status).toBe(401);

  const page = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<html/i);
  expect((await fetch(url, { headers: { authorization: basic(USER, PASSWORD) } })).status).toBe(200);

  // ?token= once: a cookie (a MAC, not the token) and a redirect to the URL without it.
  const once = await fetch(`${url}?token=${TOKEN}`, { redirect: 'manual' });
  expect(once.status).toBe(302);
  expect(once.headers.get('location')).toBe('/admin/queues');
  const setCookie = once.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).not.toContain(TOKEN);
  const cookie = setCookie.split(';')[0]!;
  const api = await fetch(`${url}/api/queues`, { headers: { cookie } });
  expect(api.status).toBe(200);
  const body = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
  expect(body.queues.map((q) => q.name).sort()).toEqual(['maintenance', 'runs']);
  expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
});

it('read-only by default: retry and remove calls are refused (405) and the job stays', async () => {
  const q = await parkedJob(ro, 'r_admin_ro_1');
  const h = { authorization: `Bearer ${TOKEN}` };
  expect((await fetch(`${ro.bot.url}/admin/queues/api/queues/runs/retry/failed`, { method: 'PUT', headers: h })).status).toBe(405);
  expect((await fetch(`${ro.bot.url}/admin/queues/api/queues/runs/r_admin_ro_1/clean`, { method: 'PUT', headers: h })).status).toBe(405);
  expect(await q.getJob('r_admin_ro_1')).toBeTruthy();
  // Reading still works.
  expect((await fetch(`${ro.bot.url}/admin/queues/api/queues/runs/r_admin_ro_1`, { headers: h })).status).toBe(200);
});

it('DBOPS_ADMIN_WRITE=true allows removing a job', async () => {
  const q = await parkedJob(rw, 'r_admin_rw_1');
  const h = { authorization: `Bearer ${TOKEN}` };
  const api = (await (await fetch(`${rw.bot.url}/admin/queues/api/queues`, { headers: h })).json()) as { queues: { readOnlyMode: boolean }[] };
  expect(api.queues.every((x) => !x.readOnlyMode)).toBe(true);
  const res = await fetch(`${rw.bot.url}/admin/queues/api/queues/runs/r_admin_rw_1/clean`, { method: 'PUT', headers: h });
  expect(res.status).toBeLessThan(300);
  expect(await q.getJob('r_admin_rw_1')).toBeFalsy();
  expect(rw.logs.join('')).toMatch(/admin write request/);
});
