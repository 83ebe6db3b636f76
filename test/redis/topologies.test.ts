// The whole bot (web + worker) on a Redis Sentinel and on a Redis Cluster, each started here on free
// ports through the REDIS_URL forms of src/redis-url.ts: a command is acked, a queued run executes,
// and nothing lands in the machine's own Redis. Cluster keys carry the hash-tagged prefix.
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/index.js';
import { ask, eventually, REQUESTER, OPS, startTestBot, stateQuery, targetsYaml, type TestBot } from '../helpers/bot.js';
import { createTestDatabase, redisPrefix } from '../helpers/db.js';
import { FakeSlack } from '../harness/index.js';
import { startCluster, startSentinel, type Topology } from '../helpers/redis-topology.js';

const haveRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
})();

let target: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  target = await createTestDatabase('topo');
  const c = new (await import('pg')).default.Client({ connectionString: target.url });
  await c.connect();
  await c.query('CREATE TABLE t0 (id int); INSERT INTO t0 SELECT generate_series(1, 100)');
  await c.end();
});
afterAll(async () => target?.drop());

async function runsOn(topology: () => Promise<Topology>, check: (tb: TestBot, t: Topology) => Promise<void>): Promise<void> {
  const t = await topology();
  let tb: TestBot | undefined;
  try {
    tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), env: { REDIS_URL: t.url } });
    expect(await ask(tb, 'help')).toMatch(/\/db/);
    await tb.wire.slashCommand({ text: 'vacuum demo t0', userId: REQUESTER, channelId: OPS });
    await eventually(async () => (await stateQuery(tb!, `SELECT state FROM runs WHERE runbook = 'vacuum'`)).rows[0]?.state === 'succeeded', 30_000, 'vacuum run succeeded');
    await check(tb, t);
    // Nothing went to the machine's Redis under this bot's prefix.
    const local = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await local.connect();
      expect(await local.keys(`*${tb.env.DBOPS_QUEUE_PREFIX}*`)).toEqual([]);
    } catch (err) {
      if (!/ECONNREFUSED/.test((err as Error).message)) throw err;
    } finally {
      local.disconnect();
    }
  } finally {
    await tb?.stop();
    await t.stop();
  }
}

const keysOn = (port: string, pattern: string) =>
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', port, '--scan', '--pattern', pattern], { timeout: 5000 }).toString().split('\n').filter(Boolean);

describe.skipIf(!haveRedisServer)('Redis topologies through REDIS_URL', () => {
  it('Sentinel: redis+sentinel://host:port/master', async () => {
    await runsOn(startSentinel, async (tb, t) => {
      // The sentinel gave out the master's address; its keys hold the queue.
      const sentinelPort = /:(\d+)\//.exec(t.url)![1]!;
      const [, masterPort] = execFileSync('redis-cli', ['-p', sentinelPort, 'sentinel', 'get-master-addr-by-name', 'dbopsmaster']).toString().trim().split('\n');
      expect(keysOn(masterPort!, `${tb.env.DBOPS_QUEUE_PREFIX}:runs:*`).length).toBeGreaterThan(0);
    });
  }, 90_000);

  it('Cluster: redis+cluster://n1,n2,n3 with the prefix wrapped in {…}', async () => {
    await runsOn(startCluster, async (tb, t) => {
      const prefix = tb.env.DBOPS_QUEUE_PREFIX!;
      expect(loadConfig({ ...process.env, ...tb.env }).queuePrefix).toBe(`{${prefix}}`);
      const ports = [...t.url.matchAll(/:(\d+)/g)].map((m) => m[1]!);
      const perNode = ports.map((p) => keysOn(p, `{${prefix}}:*`).length);
      // One hash tag, one slot: every queue key is on a single node.
      expect(perNode.filter((n) => n > 0)).toHaveLength(1);
    });
  }, 90_000);

  it('an unreachable Sentinel stops start-up with the sentinels named, not a URL parse error', async () => {
    // Own fake Slack and state DB, so a start-up that fails leaves nothing behind.
    const fake = await FakeSlack.start();
    const stateDb = await createTestDatabase('topo_state');
    try {
      const tbP = startTestBot({ fake, stateDb, targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }), env: { REDIS_URL: 'redis+sentinel://127.0.0.1:1/nomaster', DBOPS_QUEUE_PREFIX: redisPrefix('topo') } });
      await expect(tbP).rejects.toThrow('REDIS_URL: cannot reach Redis at sentinels 127.0.0.1:1 (master "nomaster")');
    } finally {
      await fake.close();
      await stateDb.drop();
    }
  }, 30_000);
});
