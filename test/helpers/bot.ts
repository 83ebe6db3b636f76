import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, loadConfig, startBot, type RunningBot, type StartOptions } from '../../src/index.js';
import { FakeSlack, SlackWire } from '../harness/index.js';
import { createServer } from 'node:net';
import pg from 'pg';
import { createTestDatabase, redisPrefix } from './db.js';
import { eventually } from './wait.js';

export { eventually };

export const SIGNING_SECRET = 'test-signing-secret-0123456789';
export const BOT_TOKEN = 'xoxb-test-token-abcdef';
export const METRICS_TOKEN = 'test-metrics-token-0123456789';
export const REQUESTER = 'U0REQ';
export const APPROVER = 'U0APPROVER';
export const APPROVER2 = 'U0APPROVER2';
export const OUTSIDER = 'U0OUTSIDER';
export const GROUP_MEMBER = 'U0GROUPIE';
export const OPS = 'C0OPS';
export const INCIDENTS = 'C0INCIDENTS';

export interface TestBot {
  fake: FakeSlack;
  wire: SlackWire;
  bot: RunningBot;
  stateDb: { name: string; url: string; drop: () => Promise<void> };
  env: Record<string, string>;
  logs: string[];
  targetsPath: string;
  stop: () => Promise<void>;
  restart: (opts?: StartOptions) => Promise<void>;
}

/** The targets file used by most tests; `extra` is merged at top level (YAML text). */
export function targetsYaml(targets: Record<string, string>, extra = ''): string {
  const lines = [`incidentChannel: ${INCIDENTS}`, `approvers: [${APPROVER}, ${APPROVER2}, S0DBAS]`, extra, 'targets:'];
  for (const [name, body] of Object.entries(targets)) lines.push(`  ${name}:`, ...body.trim().split('\n').map((l) => `    ${l}`));
  return lines.join('\n') + '\n';
}

/**
 * A real bot on a real port, with its own state database and Redis prefix, talking to a fake Slack
 * that records every call; Slack's side is driven with signed requests through `wire`.
 */
export async function startTestBot(opts: { targets: string; env?: Record<string, string>; start?: StartOptions; fake?: FakeSlack; stateDb?: TestBot['stateDb']; prefix?: string }): Promise<TestBot> {
  const fake = opts.fake ?? (await FakeSlack.start({ channels: { [OPS]: 'ops', [INCIDENTS]: 'incidents' }, usergroups: { S0DBAS: [GROUP_MEMBER] } }));
  const stateDb = opts.stateDb ?? (await createTestDatabase('state'));
  const dir = mkdtempSync(join(tmpdir(), 'dbops-test-'));
  const targetsPath = join(dir, 'targets.yaml');
  writeFileSync(targetsPath, opts.targets);
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    PORT: '0',
    REDIS_URL: 'redis://127.0.0.1:6379',
    DATABASE_URL: stateDb.url,
    DBOPS_TARGETS: targetsPath,
    DBOPS_QUEUE_PREFIX: opts.prefix ?? redisPrefix('bot'),
    DBOPS_METRICS_TOKEN: METRICS_TOKEN,
    // Tests drive one user hard on purpose; the limits have their own tests (test/bot/load.test.ts).
    DBOPS_RATE_LIMIT: '1000/60s',
    DBOPS_MAX_PENDING_APPROVALS: '100',
    ...opts.env,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const start = async (s?: StartOptions) => {
    const config = loadConfig({ ...process.env, ...env });
    return startBot(config, { logger: createLogger({ destination: sink, level: 'debug' }), lockDurationMs: 4000, housekeepingEveryMs: 1000, notifierIntervalMs: 50, ...opts.start, ...s });
  };
  const tb: TestBot = {
    fake,
    wire: undefined as never,
    bot: await start(),
    stateDb,
    env,
    logs,
    targetsPath,
    stop: async () => {
      await tb.bot.stop();
      await fake.close();
      await stateDb.drop();
    },
    restart: async (s) => {
      await tb.bot.stop();
      tb.bot = await start(s);
      tb.wire = new SlackWire({ botUrl: `${tb.bot.url}/slack/events`, signingSecret: SIGNING_SECRET, fake });
    },
  };
  tb.wire = new SlackWire({ botUrl: `${tb.bot.url}/slack/events`, signingSecret: SIGNING_SECRET, fake });
  return tb;
}


/** All text a Slack message shows (text + every nested text field of its blocks). */
export function textOf(m: { text?: unknown; blocks?: unknown } | undefined): string {
  if (!m) return '';
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') return;
    if (Array.isArray(v)) return v.forEach(walk);
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  if (typeof m.text === 'string') out.push(m.text);
  walk(m.blocks);
  return out.join('\n');
}

/** The bot's /metrics text (with the test token). */
export async function scrapeMetrics(tb: TestBot): Promise<string> {
  const res = await fetch(`${tb.bot.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** The value of one unlabelled (or fully labelled) series in a /metrics text, if present. */
export function metricValue(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A query on the bot's own state database. */
export async function stateQuery(tb: TestBot, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: tb.stateDb.url });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** Sends `/db text` as the requester and returns the text of the bot's (response_url) answer. */
export async function ask(tb: TestBot, text: string, user = REQUESTER, channel = OPS): Promise<string> {
  const before = tb.fake.callsOf('response_url').length;
  const res = await tb.wire.slashCommand({ text, userId: user, channelId: channel });
  if (res.body) return textOf(res.json as never);
  const call = await eventually(() => tb.fake.callsOf('response_url')[before], 15_000, `reply to ${text}`);
  return textOf(call.args as never);
}

/** A TCP port free on 127.0.0.1 right now (for processes that need a fixed PORT). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Sends a request that needs approval and returns its run id and approval card (posted in the
 * incident channel), after the requester's own "waiting" reply so later replies are not confused with it.
 */
export async function requestApproval(tb: TestBot, text: string, user = REQUESTER): Promise<{ runId: string; cardTs: string; cardText: string }> {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await tb.wire.slashCommand({ text, userId: user, channelId: OPS });
  const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never))), 15_000, `approval card for ${text}`);
  const runId = /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0];
  await tb.fake.waitForCall('response_url', (c) => JSON.stringify(c.args).includes(runId));
  return { runId, cardTs: (card.response as { ts: string }).ts, cardText: `${String(card.args.text)}\n${textOf(card.args as never)}` };
}

/** Clicks Approve on a run's card as `user`. */
export function clickApprove(tb: TestBot, runId: string, cardTs: string, user = APPROVER) {
  return tb.wire.blockActions({ userId: user, channelId: INCIDENTS, messageTs: cardTs, actionId: 'approval_approve', value: runId });
}
