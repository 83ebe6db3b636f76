import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createTestDatabase } from '../helpers/db.js';
import { eventually, freePort, OPS, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// A private Redis on its own port, so killing it affects only this test.
let port: number;
let redis: ChildProcess | undefined;
const dir = mkdtempSync(join(tmpdir(), 'dbops-redis-'));

async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  await eventually(async () => {
    const r = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    r.stdout!.on('data', (d) => (out += d));
    await new Promise((res) => r.on('exit', res));
    return out.trim() === 'PONG';
  }, 10_000, 'redis up');
}

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  port = await freePort();
  await startRedis();
  target = await createTestDatabase('fault');
  const c = await connect(target.url);
  await c.query(`CREATE TABLE t (id int) WITH (autovacuum_enabled = false); INSERT INTO t SELECT generate_series(1, 1000)`);
  await c.end();
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
});
afterAll(async () => {
  await tb?.stop();
  redis?.kill('SIGKILL');
  await target?.drop();
});

it('Redis dies and comes back empty: readiness says so, requests in between are kept and run afterwards', async () => {
  expect((await fetch(`${tb.bot.url}/readyz`)).status).toBe(200);
  redis!.kill('SIGKILL');
  await new Promise((r) => redis!.once('exit', r));
  await eventually(async () => (await fetch(`${tb.bot.url}/readyz`)).status === 503, 10_000, 'readyz 503');
  const body = await (await fetch(`${tb.bot.url}/readyz`)).json();
  expect(body).toMatchObject({ ok: false, checks: { redis: false, stateDb: true } });

  // A request while the queue is down: recorded, the user told it will start by itself.
  await tb.wire.slashCommand({ text: 'analyze demo t', userId: REQUESTER, channelId: OPS });
  const reply = await tb.fake.waitForCall('response_url', undefined, 15_000);
  expect(textOf(reply.args as never)).toMatch(/queue \(Redis\) is unreachable right now\. It starts by itself/);
  const run = (await stateQuery(tb, `SELECT id, state FROM runs WHERE runbook = 'analyze'`)).rows[0];
  expect(run.state).toBe('queued');

  await startRedis();
  await eventually(async () => (await fetch(`${tb.bot.url}/readyz`)).status === 200, 15_000, 'readyz 200 again');
  await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [run.id])).rowCount, 30_000, 'run done after Redis came back');
  const c = await connect(target.url);
  const t = (await c.query(`SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 't'`)).rows[0];
  await c.end();
  expect(t.last_analyze).not.toBeNull();
}, 90_000);
