// Everything `npm run sandbox` starts, in one process: the demo database, the fake Slack, the bot
// (web + worker, through its public start function only) and the page's server. Tests start it
// in-process with their own database names, queue prefix and ports.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createLogger, loadConfig, startBot, type AppConfig, type RunningBot } from '../src/index.js';
import { demoAppUrl, ensureDemoDatabase, withDatabase } from './demo-db.js';
import { DemoSessions } from './demo-sessions.js';
import { FakeSlack } from './fake-slack/server.js';
import { PUBLIC_DIR, TARGETS_FILE } from './paths.js';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from './preflight.js';
import { SlackWire } from './slack-wire.js';
import { historyNote, prepareStateDatabase, type StateHistory } from './state-db.js';
import { startWebServer, type RunningWeb } from './web/server.js';
import { DEMO_USERS, fakeUsers } from './workspace.js';

export interface SandboxOptions {
  /** REDIS_URL, DATABASE_URL (bot state), DEMO_URL (demo target), DBOPS_QUEUE_PREFIX, LOG_LEVEL. */
  env?: NodeJS.ProcessEnv;
  /** First port tried for the page (default 3000, then the next free one); 0 = any. */
  webPort?: number;
  /** Where the bot logs (JSON lines). Default: not written anywhere. */
  logFile?: string;
  /** Rebuild the demo database's tables and dead tuples (default true). */
  refreshDemo?: boolean;
  /** Passed to startBot (tests make progress snappier). */
  notifierIntervalMs?: number;
  /**
   * Start with an empty state database (default: yes, unless SANDBOX_KEEP_STATE is set). Only the
   * sandbox's own `dbops_sandbox…` database is ever dropped; see state-db.ts.
   */
  freshState?: boolean;
}

export interface RunningSandbox {
  url: string;
  fake: FakeSlack;
  wire: SlackWire;
  bot: RunningBot;
  demo: DemoSessions;
  web: RunningWeb;
  config: AppConfig;
  demoUrl: string;
  /** What the state database kept from earlier sessions (shown on the page when anything). */
  history: StateHistory;
  stop(): Promise<void>;
}

export async function startSandbox(o: SandboxOptions = {}): Promise<RunningSandbox> {
  const env = o.env ?? process.env;
  const databaseUrl = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const demoUrl = env.DEMO_URL || withDatabase(databaseUrl, 'dbops_demo');
  if (o.refreshDemo !== false) await ensureDemoDatabase(demoUrl);
  const history = await prepareStateDatabase(databaseUrl, { fresh: o.freshState ?? !env.SANDBOX_KEEP_STATE });

  const cleanup: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  };
  try {
    const signingSecret = randomBytes(16).toString('hex');
    const fake = await FakeSlack.start({ users: fakeUsers() });
    cleanup.push(() => fake.close());
    const config = loadConfig(
      {
        SLACK_BOT_TOKEN: 'xoxb-sandbox',
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_API_URL: fake.apiUrl,
        PORT: '0',
        REDIS_URL: env.REDIS_URL || DEFAULT_REDIS_URL,
        DATABASE_URL: databaseUrl,
        DBOPS_TARGETS: TARGETS_FILE,
        DBOPS_QUEUE_PREFIX: env.DBOPS_QUEUE_PREFIX || 'dbops-sandbox',
        DEMO_URL: demoUrl,
      },
      { sandbox: true },
    );
    for (const [id, name] of Object.entries(config.targets.channels)) fake.channels.set(id, name);

    const logger = createLogger({ level: env.LOG_LEVEL ?? 'info', destination: logStream(o.logFile) });
    const bot = await startBot(config, { role: 'all', logger, ...(o.notifierIntervalMs !== undefined ? { notifierIntervalMs: o.notifierIntervalMs } : {}) });
    cleanup.push(() => bot.stop());
    const wire = new SlackWire({ botUrl: `${bot.url}/slack/events`, signingSecret, fake });

    const demo = new DemoSessions(demoAppUrl(demoUrl));
    cleanup.push(() => demo.close());
    const approvers = [...new Set([...config.targets.approvers, ...[...config.targets.targets.values()].flatMap((t) => t.approvers)])];
    const note = historyNote(history);
    const web = await startWebServer({ fake, wire, demo, publicDir: PUBLIC_DIR, users: DEMO_USERS, approvers, port: o.webPort ?? 3000, ...(note ? { historyNote: note } : {}) });
    cleanup.push(() => web.close());
    return { url: web.url, fake, wire, bot, demo, web, config, demoUrl, history, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The bot's log lines go to a file (the terminal stays readable) or nowhere. */
function logStream(file: string | undefined): NodeJS.WritableStream {
  if (!file) return { write: () => true } as unknown as NodeJS.WritableStream;
  mkdirSync(dirname(file), { recursive: true });
  return createWriteStream(file, { flags: 'a' });
}
