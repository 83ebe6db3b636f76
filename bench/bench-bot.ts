/**
 * A real dbops (`startBot`: web + worker, Bolt HTTP receiver, BullMQ, notifier) for benches that go
 * through Slack as Slack would: a signed `/db …` → the approval card in the fake Slack → a signed
 * Approve click. Its state database is a fresh one on the machine's PostgreSQL, its Redis keys
 * have their own prefix; `stop()` removes both. The target is given as a URL (a bench's own cluster).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { FakeSlack } from '../sandbox/fake-slack/server.js';
import { SlackWire } from '../sandbox/slack-wire.js';
import { createLogger, loadConfig, startBot } from '../src/index.js';

const SECRET = 'bench-signing-secret-0123456789';
export const OPS = 'C0OPS';
export const INCIDENTS = 'C0INCIDENTS';
export const REQUESTER = 'U0REQUESTER';
export const APPROVER = 'U0APPROVER';
const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchBot {
  /** The environment the bot was started with (for starting another dbops process the same way). */
  env: Record<string, string | undefined>;
  fake: FakeSlack;
  wire: SlackWire;
  /** Sends `/db text` and waits for its approval card: the run id and the card's ts. */
  requestCard(text: string): Promise<{ runId: string; ts: string }>;
  /** Sends the approver's signed click on the card; resolves when the HTTP ack is back. */
  approve(card: { runId: string; ts: string }): Promise<void>;
  /** The run's row in the state database (state, when a worker started it). */
  run(runId: string): Promise<{ state: string; startedAt: Date | null } | undefined>;
  /** Where a run's time went, ms since `t0` (epoch ms): approval recorded, run started, each step's start and end. */
  timeline(runId: string, t0: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startBenchBot(targetUrl: string, extraTarget = ''): Promise<BenchBot> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const stateDb = `dbops_bench_state_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${stateDb}`);
  const stateUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${stateDb}` }).toString();
  const dir = mkdtempSync(join(tmpdir(), 'dbops-bench-bot-'));
  const targets = join(dir, 'targets.yaml');
  writeFileSync(targets, [
    `incidentChannel: ${INCIDENTS}`,
    `approvers: [${APPROVER}]`,
    'policy:',
    '  environments:',
    '    production: { change: approval, announce: true }',
    'targets:',
    '  bench:',
    '    environment: production',
    '    engine: self-hosted',
    '    url: ${BENCH_TARGET_URL}',
    ...extraTarget.split('\n').filter(Boolean).map((l) => `    ${l}`),
    '',
  ].join('\n'));
  const fake = await FakeSlack.start({ channels: { [OPS]: 'ops', [INCIDENTS]: 'incidents' } });
  const env = {
    ...process.env, SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl, PORT: '0',
    DATABASE_URL: stateUrl, DBOPS_TARGETS: targets, DBOPS_QUEUE_PREFIX: `dbops-bench-${randomBytes(4).toString('hex')}`, BENCH_TARGET_URL: targetUrl,
  };
  // Production's log level, written nowhere: the serialisation cost stays in the figures.
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const bot = await startBot(loadConfig(env), { logger: createLogger({ destination: sink, level: 'info' }) });
  const wire = new SlackWire({ botUrl: `${bot.url}/slack/events`, signingSecret: SECRET, fake });
  const state = new pg.Pool({ connectionString: stateUrl, max: 2 });
  // An idle session ended by the server (the state database dropped at the end) is not a crash.
  state.on('error', () => undefined);
  return {
    env,
    fake,
    wire,
    async requestCard(text) {
      const before = fake.callsOf('chat.postMessage').length;
      await wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
      const card = await fake.waitForCall('chat.postMessage', (c) => fake.callsOf('chat.postMessage').indexOf(c) >= before && c.args.channel === INCIDENTS && JSON.stringify(c.args).includes('approval_approve'), 60_000);
      const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
      // The card's ts is recorded once Slack answered the post; the requester's "waiting" reply comes after that.
      await fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId), 60_000);
      return { runId, ts: (card.response as { ts: string }).ts };
    },
    async approve(card) {
      const res = await wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: card.ts, actionId: 'approval_approve', value: card.runId });
      if (res.status !== 200) throw new Error(`the approval click was answered ${res.status}`);
    },
    async run(runId) {
      const r = await state.query<{ state: string; started_at: Date | null }>('SELECT state, started_at FROM runs WHERE id = $1', [runId]);
      return r.rows[0] ? { state: r.rows[0].state, startedAt: r.rows[0].started_at } : undefined;
    },
    async timeline(runId, t0) {
      const at = (d: Date | null) => (d ? `${Math.round(d.getTime() - t0)} ms` : '—');
      const a = await state.query<{ at: Date }>(`SELECT max(at) AS at FROM approvals WHERE run_id = $1`, [runId]);
      const r = await state.query<{ started_at: Date | null }>('SELECT started_at FROM runs WHERE id = $1', [runId]);
      const steps = await state.query<{ name: string; started_at: Date; finished_at: Date | null }>('SELECT name, started_at, finished_at FROM run_steps WHERE run_id = $1 ORDER BY idx', [runId]);
      return [`approved ${at(a.rows[0]?.at ?? null)}`, `started ${at(r.rows[0]?.started_at ?? null)}`, ...steps.rows.map((x) => `${x.name} ${at(x.started_at)}–${at(x.finished_at)}`)].join(', ');
    },
    async stop() {
      await bot.stop();
      await state.end();
      await fake.close();
      await admin.query(`DROP DATABASE IF EXISTS ${stateDb} WITH (FORCE)`);
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
