// A worker SIGKILLed in the middle of a snapshot's wait: the next worker re-attaches to the same
// snapshot (no second CreateDBSnapshot). Workers are separate OS processes (built JS); the proxy in
// front of moto lives here, so its counters see every process.
import { spawn, type ChildProcess } from 'node:child_process';
import { CreateDBInstanceCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, startTestBot, stateQuery, targetsYaml, type TestBot } from '../helpers/bot.js';
import { createTestDatabase } from '../helpers/db.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { MotoProxy } from '../helpers/moto-proxy.js';
import { finishedRun, queueRun, stepRows, threadMessage } from '../helpers/snapshot-runs.js';

let moto: Moto;
let proxy: MotoProxy;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const children: ChildProcess[] = [];
let aws: Record<string, string>;

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ['dist/src/main.js', '--role', 'worker'], {
    env: { ...process.env, ...tb.env, ...aws, DBOPS_LOCK_DURATION_MS: '3000', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = await new MotoProxy(moto.endpoint).start();
  db = await createTestDatabase('snapresume');
  const setup = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: 'secret-password-1' }));
  setup.destroy();
  aws = { AWS_ENDPOINT_URL: proxy.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: moto.region, DBOPS_POLL_INTERVAL_MS: '300' };
  // Web only here: the plan (no AWS call without --name) is made in this process, runs by the workers.
  tb = await startTestBot({ targets: targetsYaml({ rds: `environment: staging\nengine: aws-rds\nurl: ${db.url}\naws: { region: us-east-1, instance: orders-db }` }), env: aws, start: { role: 'web' } });
}, 60_000);
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await tb?.stop();
  await proxy?.stop();
  await moto?.stop();
  await db?.drop();
});

it('a worker killed during a look at a creating snapshot: the next worker re-attaches to the same snapshot, created once', async () => {
  proxy.creatingFor = 1000; // "creating" until the test says otherwise
  const first = spawnWorker();
  const runId = await queueRun(tb, 'snapshot rds');
  const id = (await stateQuery(tb, `SELECT plan->'facts'->>'snapshotId' AS id FROM runs WHERE id = $1`, [runId])).rows[0].id as string;
  // Two looks answered "creating": the run is in its wait step, parked between looks.
  await eventually(() => (proxy.creatingLooks.get(id) ?? 0) >= 2, 30_000, 'two creating looks');
  // Hold the next look at the proxy and kill the worker while it is waiting for the answer.
  proxy.holdMs.set('DescribeDBSnapshots', 60_000);
  await eventually(() => (proxy.inflight.get('DescribeDBSnapshots') ?? 0) > 0, 10_000, 'a look in flight');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const mid = (await stateQuery(tb, `SELECT state, next_step FROM runs WHERE id = $1`, [runId])).rows[0];
  expect(mid).toEqual({ state: 'running', next_step: 1 });

  proxy.holdMs.delete('DescribeDBSnapshots');
  proxy.creatingFor = (proxy.creatingLooks.get(id) ?? 0) + 2; // two more looks "creating", then available
  spawnWorker();
  const run = await finishedRun(tb, runId, 45_000);
  expect(run.state).toBe('succeeded');
  expect(run.plan.facts.snapshotId).toBe(id);
  // Created exactly once, across both workers; the second only looked.
  expect(proxy.count('CreateDBSnapshot')).toBe(1);
  const check = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  const snaps = (await check.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'orders-db', SnapshotType: 'manual' }))).DBSnapshots ?? [];
  check.destroy();
  expect(snaps.map((s) => s.DBSnapshotIdentifier)).toEqual([id]);
  // One crash = one more attempt of the wait step; the looks before and after it are not attempts.
  expect(run.attempts).toBe(2);
  expect(await stepRows(tb, runId)).toEqual([
    { name: 'start', state: 'done', attempts: 1 },
    { name: 'wait', state: 'done', attempts: 2 },
  ]);
  expect(await threadMessage(tb, runId, `Snapshot ${id} is available`, 15_000)).toContain(id);
}, 90_000);
