/**
 * Ack bench: how fast does dbops ack `/db …` compared with a bare Bolt app that acks `/db` with a
 * short text, on this machine?
 *
 *   npm run build && node dist/bench/ack.js [--levels=20,100,500] [--rounds=60] [--samples=4000] [--warmup=400] [--row-warmup=4] [--commands=help,targets,status,bad] [--deadline=1800]
 *
 * Each app runs in its own child process (so neither the load generator nor the other app shares its
 * event loop), and so does the fake Slack both talk to (dbops' status replies land there, not in
 * dbops' own process): the bare app (Bolt HTTP receiver, token verified once at start), and dbops
 * through the real `startBot` with a state database and a `demo` target it creates on the machine's
 * PostgreSQL (dropped at the end) and the machine's Redis (own prefix).
 * Signed `/db help`, `/db targets`, `/db status demo` and a bad command go out N at once, rounds
 * interleaved bare/dbops; before the next round, dbops' background work of the last one (status
 * replies through response_url) must have landed, and every round (either app's) starts on a quiet
 * machine (see machineQuiet). Every request comes from a distinct user, so the
 * per-user rate limit is live but never trips. Prints p50/p99 of the ack round trip and the ratio.
 * Bounded: a deadline stops everything; only 127.0.0.1 is touched.
 * BENCH_ROUNDS=1 prints every round's p50/p99 to stderr (to see how much rounds differ).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks';
import pg from 'pg';
import { AckClient } from './ack-client.js';

const SECRET = 'bench-signing-secret-0123456789';
const CHANNEL = 'C0OPS';
const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const argOf = (name: string, dflt: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;

const TARGETS_YAML = `incidentChannel: C0INCIDENTS\napprovers: [U0APPROVER]\ntargets:\n  demo:\n    environment: staging\n    engine: self-hosted\n    url: \${BENCH_DEMO_URL}\n`;

type Msg = { type: 'ready'; url: string } | { type: 'urls'; urls: string[] } | { type: 'count'; responses: number; authTests: number } | { type: 'cpu'; micros: number; gcMs: number; majors: number };

// Main-thread GC pauses of this process so far (perf_hooks 'gc' entries), and how many were full
// (mark-compact) collections: what a row's tail is made of when one app's collections land in it.
const gc = { ms: 0, majors: 0 };
function watchGc(): void {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.ms += e.duration;
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gc.majors++;
    }
  }).observe({ entryTypes: ['gc'] });
}
type Cpu = Extract<Msg, { type: 'cpu' }>;
const cpuMsg = (micros: number): Cpu => ({ type: 'cpu', micros, gcMs: gc.ms, majors: gc.majors });

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * Both apps answer `cpu` with the CPU time (user + system) their process has used so far, and
 * `quiet` once a 100 ms window passes with under 5 ms of it used (at most 20 s): the work a round
 * left behind (a status run's last writes come after its reply) must not land in the next round.
 */
function answerCpu(m: { type: string }): void {
  if (m.type === 'cpu') process.send!(cpuMsg(cpuMicros()));

  if (m.type !== 'quiet') return;
  const end = Date.now() + 20_000;
  const look = (before: number) =>
    setTimeout(() => {
      const now = cpuMicros();
      if (now - before < 5_000 || Date.now() > end) process.send!(cpuMsg(now));
      else look(now);
    }, 100);
  look(cpuMicros());
}

// ---------------------------------------------------------------- children: the two apps

const slackApiUrl = () => process.env.BENCH_SLACK_API_URL!;

/** The fake Slack Web API and response_url endpoint, in a process of its own. */
async function serveSlack(): Promise<void> {
  const { FakeSlack } = await import('../sandbox/fake-slack/server.js');
  const fake = await FakeSlack.start({ channels: { [CHANNEL]: 'ops', C0INCIDENTS: 'incidents' } });
  process.send!({ type: 'ready', url: fake.apiUrl } satisfies Msg);
  process.on('message', (m: { type: string; n?: number }) => {
    if (m.type === 'urls') process.send!({ type: 'urls', urls: Array.from({ length: m.n! }, (_, i) => fake.responseUrlFor({ channel: CHANNEL, user: `U0B${i}` })) } satisfies Msg);
    if (m.type === 'count') process.send!({ type: 'count', responses: fake.callsOf('response_url').length, authTests: fake.callsOf('auth.test').length } satisfies Msg);
    if (m.type === 'stop') void fake.close().then(() => process.exit(0));
  });
}

async function serveBare(): Promise<void> {
  watchGc();
  const bolt = await import('@slack/bolt');
  const app = new bolt.default.App({ token: 'xoxb-bare', signingSecret: SECRET, clientOptions: { slackApiUrl: slackApiUrl() }, logLevel: bolt.LogLevel.ERROR });
  // BENCH_BARE_ANSWERS=same: the bare app acks help/targets with the bot's own messages (same bytes on
  // the wire), to tell the framework's cost of a big answer from dbops' own.
  const same = process.env.BENCH_BARE_ANSWERS === 'same';
  const answers = same ? await sameAnswers() : undefined;
  app.command('/db', async ({ ack, command }) => {
    const m = answers?.[command.text.trim()];
    return m ? ack({ response_type: 'ephemeral', text: m.text, blocks: m.blocks as never }) : ack('ok');
  });
  const server = (await app.start(0)) as { address: () => { port: number } };
  process.send!({ type: 'ready', url: `http://127.0.0.1:${server.address().port}/slack/events` } satisfies Msg);
  process.on('message', (m: { type: string }) => {
    answerCpu(m);
    if (m.type === 'stop') void app.stop().then(() => process.exit(0));
  });
}

async function sameAnswers(): Promise<Record<string, { text: string; blocks: unknown[] }>> {
  const { helpMessage, targetsMessage } = await import('../src/commands/help.js');
  const { defaultRegistry } = await import('../src/runbooks/index.js');
  const { loadTargets } = await import('../src/config.js');
  const dir = mkdtempSync(join(tmpdir(), 'dbops-ack-bare-'));
  writeFileSync(join(dir, 't.yaml'), TARGETS_YAML);
  const targets = loadTargets(join(dir, 't.yaml'), { BENCH_DEMO_URL: 'postgres://bench@127.0.0.1/demo' });
  rmSync(dir, { recursive: true, force: true });
  return { help: helpMessage(defaultRegistry(), targets), targets: targetsMessage(targets) };
}

async function serveDbops(): Promise<void> {
  watchGc();
  const { createLogger, loadConfig, startBot } = await import('../src/index.js');
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const tag = randomBytes(4).toString('hex');
  const [stateDb, targetDb] = [`dbops_bench_state_${tag}`, `dbops_bench_demo_${tag}`];
  await admin.query(`CREATE DATABASE ${stateDb}`);
  await admin.query(`CREATE DATABASE ${targetDb}`);
  const urlOf = (db: string) => Object.assign(new URL(ADMIN_URL), { pathname: `/${db}` }).toString();
  const dir = mkdtempSync(join(tmpdir(), 'dbops-ack-bench-'));
  const targets = join(dir, 'targets.yaml');
  writeFileSync(targets, TARGETS_YAML);
  const env = {
    ...process.env, SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slackApiUrl(), PORT: '0',
    DATABASE_URL: urlOf(stateDb), DBOPS_TARGETS: targets, DBOPS_QUEUE_PREFIX: `dbops-bench-ack-${tag}`, BENCH_DEMO_URL: urlOf(targetDb),
  };
  // Production's log level, written nowhere: the serialisation cost stays in the figures.
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const bot = await startBot(loadConfig(env), { logger: createLogger({ destination: sink, level: 'info' }) });
  process.send!({ type: 'ready', url: `${bot.url}/slack/events` } satisfies Msg);
  process.on('message', (m: { type: string; n?: number }) => {
    answerCpu(m);
    if (m.type === 'stop') {
      void (async () => {
        await bot.stop();
        for (const db of [stateDb, targetDb]) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        await admin.end();
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      })();
    }
  });
}

// ---------------------------------------------------------------- parent: the driver

class Child {
  readonly #waiting: Array<(m: Msg) => void> = [];
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Msg) => this.#waiting.shift()?.(m));
  }
  static async start(kind: 'slack' | 'bare' | 'dbops', slackUrl?: string): Promise<{ child: Child; url: string }> {
    const env = { ...process.env, ...(slackUrl ? { BENCH_SLACK_API_URL: slackUrl } : {}) };
    const proc = fork(fileURLToPath(import.meta.url), [`--serve=${kind}`], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])] });
    const child = new Child(proc);
    const m = await child.next();
    if (m.type !== 'ready') throw new Error(`${kind} did not start`);
    return { child, url: m.url };
  }
  next(): Promise<Msg> {
    return new Promise((r) => this.#waiting.push(r));
  }
  ask<T extends Msg['type']>(m: { type: T; n?: number }): Promise<Extract<Msg, { type: T }>> {
    const p = this.next();
    this.proc.send(m);
    return p as Promise<Extract<Msg, { type: T }>>;
  }
  /** Resolves when the app's process has gone quiet (see answerCpu). */
  async quiet(): Promise<void> {
    const p = this.next();
    this.proc.send({ type: 'quiet' });
    await p;
  }
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.send({ type: 'stop' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

const COMMANDS = [
  { name: 'help', text: 'help', replies: false },
  { name: 'targets', text: 'targets', replies: false },
  { name: 'status demo', text: 'status demo', replies: true },
  { name: 'bad command', text: 'frobnicate demo', replies: false },
] as const;

let userSeq = 0;
// Distinct, valid Slack user ids (U + base-36 digits, upper case).
const nextUser = () => `U0B${(userSeq++).toString(36).toUpperCase().padStart(6, '0')}`;

async function round(client: AckClient, text: string, n: number, urls: string[] | undefined): Promise<number[]> {
  const res = await client.round(Array.from({ length: n }, (_, i) => ({ text, userId: nextUser(), channelId: CHANNEL, responseUrl: urls?.[i] ?? 'https://hooks.slack.com/commands/T0/1/unused', triggerId: `${Date.now()}.${i}.bench` })));
  const bad = res.find((r) => r.status !== 200);
  if (bad) throw new Error(`a request was answered ${bad.status}: ${bad.body.slice(0, 200)}`);
  return res.map((r) => r.ms);
}

/** [busy, total] jiffies of the whole machine so far (Linux /proc/stat), or undefined elsewhere. */
function machineJiffies(): [number, number] | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return [total - f[3]! - (f[4] ?? 0), total];
}

/**
 * Waits (at most 3 s) for a 50 ms window in which the whole machine is under 15 % busy. At 20
 * concurrent a round lasts ~10 ms and a p99 is the worst of a few rounds, so one round that met
 * Postgres autovacuuming the state database after the status rounds decided a row's p99. Both apps
 * wait the same way before each of their rounds.
 */
async function machineQuiet(): Promise<void> {
  const end = Date.now() + 3000;
  for (let before = machineJiffies(); before && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 50));
    const now = machineJiffies()!;
    if ((now[0] - before[0]) / Math.max(1, now[1] - before[1]) < 0.15) return;
    before = now;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function settle(slack: Child, app: Child, expected: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await slack.ask({ type: 'count' })).responses < expected) {
    if (Date.now() > end) throw new Error(`dbops' status replies did not all land within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await app.quiet(); // the runs' own bookkeeping after their replies
}

async function main(): Promise<void> {
  const levels = argOf('levels', '20,100,500').split(',').map(Number);
  // Round medians vary ±40 % from one round to the next on a small VM (either app), and a round's
  // requests share its luck (a GC pause, the host): a percentile over few rounds is decided by one.
  // So at least 60 rounds, and 4,000 samples at low concurrency (200 rounds of 20).
  const minRounds = Number(argOf('rounds', '60'));
  const samples = Number(argOf('samples', '4000'));
  const rowWarmup = Number(argOf('row-warmup', '4'));
  const roundsAt = (n: number) => Math.max(minRounds, Math.ceil(samples / n));
  // --commands=help,bad: a subset (names without spaces: the first word), e.g. to profile one.
  const only = argOf('commands', '').split(',').filter(Boolean);
  const commands = only.length ? COMMANDS.filter((c) => only.includes(c.name.split(' ')[0]!)) : COMMANDS;
  const deadline = setTimeout(() => { console.error('deadline reached: stopping'); process.exit(2); }, Number(argOf('deadline', '1800')) * 1000);
  console.log(`dbops ack bench: ${levels.map((n) => `${n} concurrent × ${roundsAt(n)} rounds`).join(', ')} per app and command, interleaved`);
  const slack = await Child.start('slack');
  const bare = await Child.start('bare', slack.url);
  const dbops = await Child.start('dbops', slack.url);
  const wires = { bare: new AckClient(bare.url, SECRET), dbops: new AckClient(dbops.url, SECRET) };
  let expected = 0;
  const rows: string[] = [];
  try {
    // Warm-up: connections, the once-resolved bot identity, and the JIT. A few hundred requests per
    // command and app: after only 20, every process (the driver's too) still spent about twice the
    // CPU per request it settles at, and the first rows measured start-up more than the apps.
    const warm = Number(argOf('warmup', '400'));
    for (const c of commands) {
      for (let done = 0; done < warm; done += 50) {
        await round(wires.bare, c.text, 50, undefined);
        const urls = c.replies ? (await slack.child.ask({ type: 'urls', n: 50 })).urls : undefined;
        await round(wires.dbops, c.text, 50, urls);
        if (c.replies) await settle(slack.child, dbops.child, (expected += 50));
      }
    }
    const authAfterWarmup = (await slack.child.ask({ type: 'count' })).authTests;
    let total = 0;
    console.log(`\n${'command'.padEnd(12)} ${'conc'.padStart(4)}   ${'bare p50'.padStart(9)} ${'bare p99'.padStart(9)}   ${'dbops p50'.padStart(9)} ${'dbops p99'.padStart(9)}   ${'p50 ×'.padStart(6)} ${'p99 ×'.padStart(6)}   ${'CPU µs/req bare'.padStart(15)} ${'dbops'.padStart(5)}   ${'GC ms/full bare'.padStart(12)} ${'dbops'.padStart(7)}`);
    for (const n of levels) {
      for (const c of commands) {
        const t = { bare: [] as number[], dbops: [] as number[] };
        const cpuNow = async () => ({ bare: await bare.child.ask({ type: 'cpu' }), dbops: await dbops.child.ask({ type: 'cpu' }) });
        let cpu0: Record<'bare' | 'dbops', Cpu> | undefined;
        // The first rounds of a row (negative r) are not measured: the first row at a new level
        // otherwise absorbed, in either app, the collection of what the rows before it left.
        for (let r = -rowWarmup; r < roundsAt(n); r++) {
          if (r === 0) cpu0 = await cpuNow();
          // Alternate which app goes first, so neither always gets the quieter machine.
          for (const which of r % 2 ? (['dbops', 'bare'] as const) : (['bare', 'dbops'] as const)) {
            const urls = which === 'dbops' && c.replies ? (await slack.child.ask({ type: 'urls', n })).urls : undefined;
            await machineQuiet();
            const got = await round(wires[which], c.text, n, urls);
            if (process.env.BENCH_ROUNDS) console.error(c.name, n, r, which, pct(got, 50).toFixed(1), pct(got, 99).toFixed(1));
            if (r >= 0) {
              t[which].push(...got);
              total += n;
            }
            if (which === 'dbops' && c.replies) await settle(slack.child, dbops.child, (expected += n));
          }
        }
        const [b50, b99, d50, d99] = [pct(t.bare, 50), pct(t.bare, 99), pct(t.dbops, 50), pct(t.dbops, 99)];
        // CPU per request, background work (status replies) included: what the latencies are made of.
        const [before, after] = [cpu0!, await cpuNow()];
        const perReq = (which: 'bare' | 'dbops') => (after[which].micros - before[which].micros) / t[which].length;
        const gcOf = (which: 'bare' | 'dbops') => `${(after[which].gcMs - before[which].gcMs).toFixed(0)}/${after[which].majors - before[which].majors}`;
        const [bcpu, dcpu] = [perReq('bare'), perReq('dbops')];
        const line = `${c.name.padEnd(12)} ${String(n).padStart(4)}   ${b50.toFixed(1).padStart(7)}ms ${b99.toFixed(1).padStart(7)}ms   ${d50.toFixed(1).padStart(7)}ms ${d99.toFixed(1).padStart(7)}ms   ${(d50 / b50).toFixed(2).padStart(6)} ${(d99 / b99).toFixed(2).padStart(6)}   ${bcpu.toFixed(0).padStart(15)} ${dcpu.toFixed(0).padStart(5)}   ${gcOf('bare').padStart(12)} ${gcOf('dbops').padStart(7)}${d50 / b50 > 1.2 || d99 / b99 > 1.2 ? '  over 1.2×' : ''}`;
        console.log(line);
        rows.push(line);
      }
    }
    const auth = (await slack.child.ask({ type: 'count' })).authTests;
    console.log(`\nauth.test calls (both apps): ${authAfterWarmup} through start-up and warm-up, ${auth - authAfterWarmup} more over ${total / 2} measured commands each`);
    console.log(`goal: every command within 1.2× of the bare app at p50 and p99: ${rows.some((r) => r.includes('over')) ? 'MISSED on the rows marked' : 'met'}`);
  } finally {
    clearTimeout(deadline);
    wires.bare.close();
    wires.dbops.close();
    await Promise.all([bare.child.stop(), dbops.child.stop()]);
    await slack.child.stop();
  }
}

const serve = argOf('serve', '');
(serve === 'slack' ? serveSlack() : serve === 'bare' ? serveBare() : serve === 'dbops' ? serveDbops() : main().then(() => process.exit(0))).catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
