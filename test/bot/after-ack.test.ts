// Acks go first: commands' work after their ack is admitted a few at a time (src/handlers/after-ack.ts),
// and a command stuck on a hung target stops holding its turn. Real Postgres and Redis on 127.0.0.1.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { metricValue, OPS, OUTSIDER, scrapeMetrics, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { eventually } from '../helpers/wait.js';

let target: Awaited<ReturnType<typeof createTestDatabase>>;
let hung: Server;
const held: Socket[] = [];
let hungPort = 0;

beforeAll(async () => {
  target = await createTestDatabase('afterack');
  // A "database" that accepts connections and never says a word: a target on fire.
  hung = createServer((s) => held.push(s));
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  hungPort = (hung.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => hung.close(r));
  await target?.drop();
});

const targets = () =>
  targetsYaml({
    demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}`,
    burning: `environment: staging\nengine: self-hosted\nurl: postgres://dbops@127.0.0.1:${hungPort}/app`,
  });

/** Most runs whose [started, finished] overlapped at one moment. */
function peakOverlap(rows: Array<{ started_at: Date; finished_at: Date }>): number {
  const edges = rows.flatMap((r) => [{ t: r.started_at.getTime(), d: 1 }, { t: r.finished_at.getTime(), d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

it('a burst of /db status is acked at once; the runs behind the acks go two at a time, and every one is answered', async () => {
  // A wide young window: every status here finishes well inside it, so the cap alone decides.
  const tb = await startTestBot({ targets: targets(), start: { afterAck: { concurrency: 2, youngMs: 30_000 } } });
  try {
    const N = 12;
    const acks = await Promise.all(Array.from({ length: N }, (_, i) => tb.wire.slashCommand({ text: 'status demo', userId: `U0BURST${i}`, channelId: OPS })));
    expect(acks.map((a) => a.status)).toEqual(Array(N).fill(200));
    const rows = await eventually(async () => {
      const r = await stateQuery(tb, `SELECT state, started_at, finished_at FROM runs WHERE runbook = 'status'`);
      return r.rows.length === N && r.rows.every((x) => x.finished_at) ? r.rows : undefined;
    }, 30_000, 'all status runs finished');
    expect(rows.map((r) => r.state)).toEqual(Array(N).fill('succeeded'));
    expect(peakOverlap(rows)).toBeLessThanOrEqual(2);
    await eventually(() => tb.fake.callsOf('response_url').filter((c) => /Connections \(cluster\)/.test(textOf(c.args as never))).length === N, 15_000, 'every status answered');
    // Nothing left waiting, as /metrics tells an operator.
    expect(metricValue(await scrapeMetrics(tb), 'dbops_commands_waiting')).toBe(0);
  } finally {
    await tb.stop();
  }
}, 60_000);

it('a status stuck on a hung target holds its turn only briefly: another user is answered meanwhile', async () => {
  const tb = await startTestBot({ targets: targets(), start: { afterAck: { concurrency: 1, youngMs: 200 } } });
  try {
    const stuck = await tb.wire.slashCommand({ text: 'status burning', userId: 'U0ONFIRE', channelId: OPS });
    expect(stuck.status).toBe(200);
    await eventually(() => held.length > 0, 5_000, 'the bot connecting to the hung target');
    const sent = Date.now();
    await tb.wire.slashCommand({ text: 'runs', userId: OUTSIDER, channelId: OPS });
    const reply = await eventually(() => repliesTo(tb, OUTSIDER)[0], 5_000, 'the other user answered');
    expect(Date.now() - sent).toBeLessThan(2_000);
    expect(textOf(reply.args as never)).toMatch(/Status of burning · running/);
    // The status on the hung target was still waiting when the other user was served…
    expect(repliesTo(tb, 'U0ONFIRE')).toEqual([]);
    // …and in the end it is told what went wrong.
    const stuckReply = await eventually(() => repliesTo(tb, 'U0ONFIRE')[0], 20_000, 'the stuck status answered');
    expect(textOf(stuckReply.args as never)).toMatch(/burning|connect|reach/i);
  } finally {
    await tb.stop();
  }
}, 60_000);

const repliesTo = (tb: TestBot, user: string) => tb.fake.callsOf('response_url').filter((c) => c.responseUrl?.user === user);

