// `/db snapshot` on AWS RDS and Aurora, on the wire: Slack → bot → real AWS SDK → proxy → moto.
import { CreateDBClusterCommand, CreateDBInstanceCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ask, startTestBot, stateQuery, targetsYaml, type TestBot } from '../helpers/bot.js';
import { createTestDatabase } from '../helpers/db.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { MotoProxy } from '../helpers/moto-proxy.js';
import { finishedRun, queueRun, stepRows, threadMessage, threadTexts } from '../helpers/snapshot-runs.js';

let moto: Moto;
let proxy: MotoProxy;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let setup: RDSClient;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  moto = await startMoto();
  proxy = await new MotoProxy(moto.endpoint).start();
  db = await createTestDatabase('snapaws');
  setup = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: 'secret-password-1', BackupRetentionPeriod: 7 }));
  await setup.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: 'secret-password-1', BackupRetentionPeriod: 5 }));
  const aws = { AWS_ENDPOINT_URL: proxy.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing-secret-key', AWS_REGION: moto.region, DBOPS_POLL_INTERVAL_MS: '300' };
  // The bot runs in this process: the SDK's default chain reads process.env, so set it here too.
  for (const [k, v] of Object.entries(aws)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  tb = await startTestBot({
    targets: targetsYaml({
      rds: `environment: staging\nengine: aws-rds\nurl: ${db.url}\naws: { region: us-east-1, instance: orders-db }`,
      aurora: `environment: staging\nengine: aws-aurora\nurl: ${db.url}\naws: { region: us-east-1, cluster: orders-cluster }`,
    }),
    env: aws,
    // Fewer worker slots than the concurrency test's runs.
    start: { workerConcurrency: 2 },
  });
}, 60_000);
afterAll(async () => {
  await tb?.stop();
  setup?.destroy();
  await proxy?.stop();
  await moto?.stop();
  await db?.drop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
beforeEach(() => proxy.reset());

async function snapshotsOf(instance: string): Promise<string[]> {
  const r = await setup.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: instance }));
  return (r.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier!);
}

describe('/db snapshot on aws-rds and aws-aurora', () => {
  it('RDS: creating → available with progress in the thread; the result names id, size, duration and how to restore', async () => {
    proxy.creatingFor = 3;
    const runId = await queueRun(tb, 'snapshot rds --reason "before deploy"');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('succeeded');
    const id = run.plan.facts.snapshotId as string;
    expect(id).toMatch(/^dbops-rds-\d{12}-[0-9a-f]{8}$/);
    const result = await threadMessage(tb, runId, `Snapshot ${id} is available`);
    const texts = await threadTexts(tb, runId);
    // Each look while "creating" updated the progress message, with the engine's percentage.
    expect(texts.some((t) => t.includes(`${id}: creating, 25 %`) && /next check in/.test(t))).toBe(true);
    expect(texts.some((t) => t.includes('creating, 75 %'))).toBe(true);
    expect(result).toContain('20 GB');
    expect(result).toContain('Duration');
    // dbops' own restore verb now that aws-rds has one (restore-aws.ts).
    expect(result).toContain(`/db restore rds --snapshot ${id}`);
    expect(result).toContain('dbops restores into a new instance; the target is not touched.');
    expect(proxy.count('CreateDBSnapshot')).toBe(1);
    expect(proxy.creatingLooks.get(id)).toBe(3);
    expect(await snapshotsOf('orders-db')).toContain(id);
    // Three looks parked the run: the wait step stayed one attempt.
    expect(await stepRows(tb, runId)).toEqual([
      { name: 'start', state: 'done', attempts: 1 },
      { name: 'wait', state: 'done', attempts: 1 },
    ]);
  });

  it('Aurora: a cluster snapshot, creating → available', async () => {
    proxy.creatingFor = 2;
    const runId = await queueRun(tb, 'snapshot aurora --name pre-upgrade-15');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('succeeded');
    expect(run.plan.facts.snapshotId).toBe('pre-upgrade-15');
    await threadMessage(tb, runId, 'Snapshot pre-upgrade-15 is available');
    const texts = await threadTexts(tb, runId);
    expect(texts.some((t) => t.includes('pre-upgrade-15: creating'))).toBe(true);
    expect(texts.some((t) => t.includes('/db restore aurora --snapshot pre-upgrade-15'))).toBe(true);
    expect(proxy.count('CreateDBClusterSnapshot')).toBe(1);
    // The name is taken now: a second request is refused at request time, before anything runs.
    const again = await ask(tb, 'snapshot aurora --name pre-upgrade-15');
    expect(again).toContain('A snapshot named pre-upgrade-15 already exists on aurora');
  });

  it('a lost CreateDBSnapshot answer retried by the SDK finds its own snapshot: already started, one snapshot', async () => {
    // moto creates the snapshot, the answer is a 500; the SDK retries and gets "already exists".
    proxy.faults.push({ action: 'CreateDBSnapshot', status: 500, code: 'InternalFailure', message: 'lost', times: 1, afterForward: true });
    const before = (await snapshotsOf('orders-db')).length;
    const runId = await queueRun(tb, 'snapshot rds');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('succeeded');
    const id = run.plan.facts.snapshotId as string;
    expect(proxy.count('CreateDBSnapshot')).toBe(2);
    expect((await snapshotsOf('orders-db')).length).toBe(before + 1);
    const result = await threadMessage(tb, runId, `Snapshot ${id} is available`);
    expect(result).toContain('already started it; no second snapshot was made');
  });

  it('throttling, then success: the SDK retries and the run succeeds', async () => {
    proxy.faults.push({ action: 'CreateDBSnapshot', status: 400, code: 'Throttling', message: 'Rate exceeded', times: 1 });
    proxy.faults.push({ action: 'DescribeDBSnapshots', status: 400, code: 'Throttling', message: 'Rate exceeded', times: 1 });
    const runId = await queueRun(tb, 'snapshot rds');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('succeeded');
    expect(proxy.count('CreateDBSnapshot')).toBe(2);
    expect(await snapshotsOf('orders-db')).toContain(run.plan.facts.snapshotId);
  });

  it('access denied: the run fails with what to check, no host, no key, and says what was left', async () => {
    proxy.faults.push({ action: 'CreateDBSnapshot', status: 403, code: 'AccessDenied', message: 'User: arn:aws:iam::123456789012:user/bot is not authorized', times: 10 });
    const runId = await queueRun(tb, 'snapshot rds');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('failed');
    expect(run.error).toBe("AWS refused access to DB instance orders-db. Check the bot's AWS credentials and that its IAM policy (or aws.roleArn) allows this RDS action.");
    await threadMessage(tb, runId, 'State left');
    const texts = (await threadTexts(tb, runId)).join('\n');
    expect(texts).toContain('AWS refused access to DB instance orders-db');
    expect(texts).toContain('may or may not have been started by the engine');
    for (const secret of ['127.0.0.1', 'testing-secret-key', '123456789012', db.url]) expect(texts).not.toContain(secret);
  });

  it('more snapshot runs than worker slots all progress: parked runs hold no slot', async () => {
    proxy.creatingFor = 5;
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await queueRun(tb, i % 2 ? 'snapshot aurora' : 'snapshot rds'));
    // Sample how many runs are in their wait step at once: with 2 slots, more than 2 means parked ones hold none.
    let most = 0;
    let parked = 0;
    const sampling = (async () => {
      for (;;) {
        const r = (await stateQuery(tb, `SELECT count(*) FILTER (WHERE next_step = 1)::int AS waiting, count(*) FILTER (WHERE lease_owner = 'waiting')::int AS parked, count(*) FILTER (WHERE state IN ('succeeded','failed'))::int AS done FROM runs WHERE id = ANY($1)`, [ids])).rows[0];
        most = Math.max(most, r.waiting);
        parked = Math.max(parked, r.parked);
        if (r.done === ids.length) return;
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    const states = await Promise.all(ids.map((id) => finishedRun(tb, id, 45_000).then((r) => r.state)));
    await sampling;
    expect(states).toEqual(Array(6).fill('succeeded'));
    expect(most).toBeGreaterThanOrEqual(3);
    expect(parked).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
