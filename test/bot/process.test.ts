import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeSlack, SlackWire } from '../harness/index.js';
import { adminQuery, connect, createTestDatabase, redisPrefix, bloatedTable, throttleVacuum } from '../helpers/db.js';
import { eventually, OPS, REQUESTER, SIGNING_SECRET, targetsYaml, freePort } from '../helpers/bot.js';

function run(env: Record<string, string>, args: string[] = []) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['dist/src/main.js', ...args], { env: { PATH: process.env.PATH!, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}


let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dbops-proc-'));
});

it('missing or invalid config stops start-up with one clear line per problem, no stack trace', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'incidentChannel: nope\ntargets:\n  x:\n    engine: oracle\n    environment: prod\n    url: ${UNSET_URL_VAR}\n');
  const r = await run({ DBOPS_TARGETS: bad, PORT: 'abc' });
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines.every((l) => l.startsWith('dbops: config: '))).toBe(true);
  expect(r.stderr).toContain('SLACK_BOT_TOKEN: required');
  expect(r.stderr).toContain('SLACK_SIGNING_SECRET: required');
  expect(r.stderr).toContain('PORT:');
  expect(r.stderr).toContain('incidentChannel: must be a Slack channel id');
  expect(r.stderr).toMatch(/targets\.x\.engine/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const missing = await run({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DBOPS_TARGETS: join(dir, 'nope.yaml') });
  expect(missing.code).toBe(1);
  expect(missing.stderr.trim()).toBe(`dbops: config: DBOPS_TARGETS: cannot read targets file ${join(dir, 'nope.yaml')} (set DBOPS_TARGETS to its path)`);
});

it('unreachable state DB is one line, exit 1', async () => {
  const t = join(dir, 'ok.yaml');
  writeFileSync(t, targetsYaml({ demo: 'environment: staging\nengine: self-hosted\nurl: postgres://127.0.0.1/x' }));
  const r = await run({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DBOPS_TARGETS: t, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/dbops', PORT: '0' });
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^dbops: cannot start: DATABASE_URL: cannot connect/);
});

/**
 * `npm start` as a real process against a demo target: its env (extra entries override) and the
 * child, waited on until /healthz answers.
 */
async function startBotProcess(o: { name: string; fake: FakeSlack; targetUrl: string; stateUrl: string; extra?: Record<string, string> }) {
  const targets = join(dir, `${o.name}.yaml`);
  writeFileSync(targets, targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${o.targetUrl}` }));
  const port = await freePort();
  const env = { PATH: process.env.PATH!, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: o.fake.apiUrl, DBOPS_TARGETS: targets, DATABASE_URL: o.stateUrl, PORT: String(port), DBOPS_QUEUE_PREFIX: redisPrefix(o.name), LOG_LEVEL: 'warn', ...o.extra };
  const child = spawn(process.execPath, ['dist/src/main.js'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/healthz`)).ok, 20_000, 'healthz');
  const wire = new SlackWire({ botUrl: `${base}/slack/events`, signingSecret: SIGNING_SECRET, fake: o.fake });
  return { env, child, exited, base, wire };
}

let fake: FakeSlack;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let state: Awaited<ReturnType<typeof createTestDatabase>>;
afterAll(async () => {
  await fake?.close();
  await target?.drop();
  await state?.drop();
});

it('npm start serves /healthz and /readyz, and SIGTERM lets the running step finish, then exits 0', async () => {
  fake = await FakeSlack.start();
  target = await createTestDatabase('sigterm');
  state = await createTestDatabase('sigstate');
  await throttleVacuum(target.name, '10ms', 40);
  await bloatedTable(target.url, 't', 30_000, 200);
  const { child, exited, base, wire } = await startBotProcess({ name: 'sig', fake, targetUrl: target.url, stateUrl: state.url });
  const ready = await fetch(`${base}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ ok: true, checks: { redis: true, stateDb: true } });

  await wire.slashCommand({ text: 'vacuum demo t', userId: REQUESTER, channelId: OPS });
  await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_progress_vacuum p JOIN pg_database d ON d.oid = p.datid WHERE d.datname = $1`, [target.name])).rowCount, 20_000, 'vacuum running');
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const s = await connect(state.url);
  const row = (await s.query(`SELECT state FROM runs WHERE runbook = 'vacuum'`)).rows[0];
  const vac = (await s.query(`SELECT state FROM run_steps WHERE name = 'vacuum'`)).rows[0];
  await s.end();
  // The step that was running finished before exit (the grace period covers it).
  expect(vac.state).toBe('done');
  expect(['running', 'succeeded']).toContain(row.state);
}, 60_000);

it('unreachable Redis is one line, exit 1', async () => {
  const t = join(dir, 'ok2.yaml');
  writeFileSync(t, targetsYaml({ demo: 'environment: staging\nengine: self-hosted\nurl: postgres://127.0.0.1/x' }));
  const st = await createTestDatabase('noredis');
  try {
    const r = await run({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DBOPS_TARGETS: t, DATABASE_URL: st.url, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('dbops: cannot start: REDIS_URL: cannot reach Redis at 127.0.0.1:1. Start Redis or point REDIS_URL at it.');
  } finally {
    await st.drop();
  }
});

it('SIGTERM during a long step: after the grace period the step is interrupted, the process exits 0, and another worker finishes the run', async () => {
  const tgt = await createTestDatabase('sigslow');
  const st = await createTestDatabase('sigslowstate');
  const fk = await FakeSlack.start();
  try {
    await throttleVacuum(tgt.name, '20ms', 1);
    await bloatedTable(tgt.url, 'big', 40_000, 200);
    const { env, child, exited, wire } = await startBotProcess({ name: 'sigslow', fake: fk, targetUrl: tgt.url, stateUrl: st.url, extra: { DBOPS_SHUTDOWN_GRACE_MS: '1000', DBOPS_LOCK_DURATION_MS: '3000' } });
    await wire.slashCommand({ text: 'vacuum demo big', userId: REQUESTER, channelId: OPS });
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_progress_vacuum p JOIN pg_database d ON d.oid = p.datid WHERE d.datname = $1`, [tgt.name])).rowCount, 20_000, 'vacuum running');
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    const s = await connect(st.url);
    const mid = (await s.query(`SELECT r.state, s.state AS step FROM runs r JOIN run_steps s ON s.run_id = r.id AND s.name = 'vacuum'`)).rows[0];
    expect(mid).toEqual({ state: 'running', step: 'running' });
    // Nothing of ours is left running on the target.
    expect((await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dbops'`, [tgt.name])).rows[0].n).toBe(0);
    // Another worker picks the run up and finishes it (VACUUM unthrottled now, so it is quick).
    await adminQuery(`ALTER DATABASE "${tgt.name}" RESET vacuum_cost_delay`);
    const next = spawn(process.execPath, ['dist/src/main.js', '--role', 'worker'], { env, stdio: 'ignore' });
    try {
      await eventually(async () => (await s.query(`SELECT 1 FROM runs WHERE state = 'succeeded'`)).rowCount, 30_000, 'run finished by the next worker');
      // Rolling restart posts nothing twice: one request message, one progress message (reused by
      // the next worker), one result.
      const done = (c: { args: Record<string, unknown> }) => /^(Done|Finished with a warning):/.test(String(c.args.text ?? ''));
      await eventually(() => fk.callsOf('chat.postMessage').some(done), 10_000, 'result posted');
      await new Promise((r) => setTimeout(r, 500));
      const posts = fk.callsOf('chat.postMessage');
      expect(posts.filter((c) => !c.args.thread_ts)).toHaveLength(1);
      expect(posts.filter((c) => c.args.thread_ts && done(c))).toHaveLength(1);
      expect(posts.filter((c) => c.args.thread_ts)).toHaveLength(2);
    } finally {
      next.kill('SIGTERM');
      await s.end();
    }
  } finally {
    await fk.close();
    await tgt.drop();
    await st.drop();
  }
}, 90_000);
