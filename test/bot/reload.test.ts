// SIGHUP reloads the targets file with the start-up loader: a valid file is in effect for the next
// request; a bad one changes nothing and is reported on one log line. (`npm run build` first.)
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FakeSlack, SlackWire } from '../harness/index.js';
import { createTestDatabase, redisPrefix } from '../helpers/db.js';
import { eventually, freePort, OPS, REQUESTER, SIGNING_SECRET, targetsYaml, textOf } from '../helpers/bot.js';

let fake: FakeSlack | undefined;
let state: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let child: ReturnType<typeof spawn> | undefined;
afterAll(async () => {
  child?.kill('SIGTERM');
  await fake?.close();
  await state?.drop();
});

it('SIGHUP: a new valid file adds a target visible in /db targets; a bad file keeps the old targets and logs one line', async () => {
  fake = await FakeSlack.start();
  state = await createTestDatabase('reloadstate');
  const dir = mkdtempSync(join(tmpdir(), 'dbops-reload-'));
  const file = join(dir, 'targets.yaml');
  writeFileSync(file, targetsYaml({ alpha: 'environment: staging\nengine: self-hosted\nurl: postgres://127.0.0.1/alpha' }));
  const port = await freePort();
  const env = { PATH: process.env.PATH!, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: fake.apiUrl, DBOPS_TARGETS: file, DATABASE_URL: state.url, PORT: String(port), DBOPS_QUEUE_PREFIX: redisPrefix('reload'), LOG_LEVEL: 'info', BETA_URL: 'postgres://127.0.0.1/beta' };
  const proc = spawn(process.execPath, ['dist/src/main.js', '--role', 'web'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok, 20_000, 'healthz');
  const wire = new SlackWire({ botUrl: `${base}/slack/events`, signingSecret: SIGNING_SECRET, fake });
  const targets = async () => {
    const before = fake!.callsOf('response_url').length;
    const res = await wire.slashCommand({ text: 'targets', userId: REQUESTER, channelId: OPS });
    if (res.body) return textOf(res.json as never);
    return textOf((await eventually(() => fake!.callsOf('response_url')[before], 15_000, 'targets reply')).args as never);
  };
  expect(await targets()).toContain('alpha');
  expect(await targets()).not.toContain('beta');

  writeFileSync(file, targetsYaml({ alpha: 'environment: staging\nengine: self-hosted\nurl: postgres://127.0.0.1/alpha', beta: 'environment: production\nengine: self-hosted\nurl: ${BETA_URL}' }));
  proc.kill('SIGHUP');
  await eventually(() => out.includes('targets reloaded'), 10_000, 'reload logged');
  expect(await targets()).toMatch(/beta/);

  const mark = out.length;
  writeFileSync(file, 'incidentChannel: nope\ntargets:\n  gamma:\n    engine: oracle\n    environment: prod\n    url: ${UNSET_RELOAD_VAR}\n');
  proc.kill('SIGHUP');
  await eventually(() => out.slice(mark).includes('targets reload failed'), 10_000, 'failed reload logged');
  await new Promise((r) => setTimeout(r, 300));
  const lines = out.slice(mark).split('\n').filter((l) => l.includes('targets reload'));
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as { msg: string };
  // Why, on that one line: every problem of the file.
  expect(line.msg).toContain('incidentChannel: must be a Slack channel id');
  expect(line.msg).toMatch(/targets\.gamma\.engine/);
  const after = await targets();
  expect(after).toContain('alpha');
  expect(after).toContain('beta');
  expect(after).not.toContain('gamma');
  expect(proc.exitCode).toBeNull();
}, 60_000);
