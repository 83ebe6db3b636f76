// /db backup verify on the cloud engines, on the wire: aws-rds through the real SDK against moto,
// azure-flexible through the ARM restore fake. The scratch instance is restored from the snapshot,
// compared with the source, and deleted whether the comparison passed or failed. Each target's
// instanceUrl maps the scratch instance to a local database this file seeds (without {instance}:
// the scratch name comes from the run id, unknown before the request).
import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsRdsProvider } from '../../src/providers/aws-rds.js';
import { judge, scratchName } from '../../src/runbooks/backup-verify-cloud.js';
import { setProviderDeps } from '../../src/runbooks/providers.js';
import { armProviderDeps, SUBSCRIPTION } from '../helpers/arm-fake.js';
import { ArmRestoreFake } from '../helpers/arm-restore-fake.js';
import { injectFault } from '../helpers/aws-faults.js';
import { ask, startTestBot, targetsYaml, type TestBot } from '../helpers/bot.js';
import { ADMIN_URL, adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { factOf, finished, queued } from '../helpers/emergency-runs.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { stepRows, threadMessage } from '../helpers/snapshot-runs.js';

let moto: Moto;
let arm: ArmRestoreFake;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let setup: RDSClient;
const PASSWORD = 'secret-password-1';
const tag = Math.random().toString(36).slice(2, 7);
const localDbs: string[] = [];
const saved: Record<string, string | undefined> = {};
const SERVER = 'pay-flex';

/** What the bot sent to RDS: action, identifier, the delete's flags, and whether moto had the instance (with its tags) just before the delete. */
const sent: Array<{ action: string; id?: string; params: Record<string, string>; before?: DBInstance }> = [];

async function instance(id: string): Promise<DBInstance | undefined> {
  try {
    return (await setup.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
  } catch {
    return undefined;
  }
}
const instanceIds = async () => ((await setup.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).map((d) => d.DBInstanceIdentifier!);
const tagsOf = (d: DBInstance | undefined) => Object.fromEntries((d?.TagList ?? []).map((t) => [t.Key, t.Value]));

function botClient(): RDSClient {
  const client = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 2 });
  injectFault(client, async (req, action) => {
    const params = Object.fromEntries(new URLSearchParams(typeof req.body === 'string' ? req.body : ''));
    const id = params.DBInstanceIdentifier;
    sent.push({ action, ...(id ? { id } : {}), params, ...(action === 'DeleteDBInstance' && id ? { before: await instance(id) } : {}) });
    return undefined;
  });
  return client;
}

/** A local database standing in for a scratch copy: `orders` always, `customers` unless left out. */
async function scratchData(name: string, orders: number, withCustomers: boolean): Promise<string> {
  await adminQuery(`CREATE DATABASE "${name}"`);
  localDbs.push(name);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const c = await connect(u.toString());
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, ${orders})`);
  if (withCustomers) await c.query(`CREATE TABLE customers (id int PRIMARY KEY); INSERT INTO customers SELECT generate_series(1, 40)`);
  await c.end();
  return u.toString();
}

beforeAll(async () => {
  moto = await startMoto();
  arm = await new ArmRestoreFake().start();
  setup = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD, BackupRetentionPeriod: 7 }));
  await setup.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'orders-db', DBSnapshotIdentifier: 'nightly-1' }));
  await setup.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: PASSWORD, BackupRetentionPeriod: 5 }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-cluster-a', DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }));
  await setup.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'orders-cluster', DBClusterSnapshotIdentifier: 'cluster-nightly' }));
  // The source now: it moved on since the snapshot (more orders).
  db = await createTestDatabase('bvcloud');
  const c = await connect(db.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 500); CREATE TABLE customers (id int PRIMARY KEY); INSERT INTO customers SELECT generate_series(1, 40)`);
  await c.end();
  const good = await scratchData(`bv_${tag}_good`, 450, true);
  const bad = await scratchData(`bv_${tag}_bad`, 450, false);
  const azGood = await scratchData(`bv_${tag}_az`, 500, true);
  const aws = { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing-secret-key', AWS_REGION: moto.region, DBOPS_POLL_INTERVAL_MS: '200' };
  for (const [k, v] of Object.entries(aws)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  setProviderDeps({ rds: botClient(), ...armProviderDeps(arm) });
  const rds = (url: string) => `environment: staging\nengine: aws-rds\nurl: ${db.url}\ninstanceUrl: ${url}\naws: { region: us-east-1, instance: orders-db }`;
  tb = await startTestBot({
    targets: targetsYaml({
      'rds-ok': rds(good),
      'rds-bad': rds(bad),
      'aurora-ok': `environment: staging\nengine: aws-aurora\nurl: ${db.url}\ninstanceUrl: ${good}\naws: { region: us-east-1, cluster: orders-cluster }`,
      pay: `environment: staging\nengine: azure-flexible\nurl: ${db.url}\ninstanceUrl: ${azGood}\nazure: { subscription: ${SUBSCRIPTION}, resourceGroup: rg-pay, server: ${SERVER} }`,
    }),
    env: aws,
  });
}, 60_000);
afterAll(async () => {
  setProviderDeps({});
  await tb?.stop();
  setup?.destroy();
  await moto?.stop();
  await arm?.stop();
  await db?.drop();
  for (const n of localDbs) await adminQuery(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => undefined);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
beforeEach(() => {
  sent.length = 0;
  arm.requests.length = 0;
  arm.servers.set(SERVER, { state: 'Ready', location: 'westeurope', earliestRestoreDate: new Date(Date.now() - 7 * 86400_000).toISOString() });
  arm.backups.set(SERVER, [{ name: 'ondemand-1', completedTime: new Date(Date.now() - 3600_000).toISOString() }]);
});

const CLOUD_STEPS = (last: string) => [
  { name: 'verify', state: 'done', attempts: 1 },
  { name: 'scratch-restore', state: 'done', attempts: 1 },
  { name: 'compare', state: 'done', attempts: 1 },
  { name: 'scratch-delete', state: 'done', attempts: 1 },
  { name: 'verdict', state: last, attempts: 1 },
];

describe('/db backup verify on aws-rds (moto)', () => {
  it('passes: the newest snapshot restored into dbops-verify-<run>, compared with the source (which moved on: a warning), deleted without a final snapshot', async () => {
    const runId = await queued(tb, 'backup verify rds-ok');
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    expect(run.state).toBe('succeeded');
    const scratch = scratchName(runId);
    expect(sent.filter((s) => s.action === 'RestoreDBInstanceFromDBSnapshot').map((s) => [s.id, s.params.DBSnapshotIdentifier])).toEqual([[scratch, 'nightly-1']]);
    // It existed in moto, tagged as this run's, right before the bot deleted it.
    const del = sent.filter((s) => s.action === 'DeleteDBInstance');
    expect(del).toHaveLength(1);
    expect(del[0]!.id).toBe(scratch);
    expect(tagsOf(del[0]!.before)).toMatchObject({ 'dbops:restore-run': runId, 'dbops:target': 'rds-ok' });
    expect(del[0]!.params).toMatchObject({ SkipFinalSnapshot: 'true', DeleteAutomatedBackups: 'true' });
    // No pre-restore snapshot, no rename: the source is only read.
    expect(sent.filter((s) => /^(CreateDBSnapshot|ModifyDBInstance)$/.test(s.action))).toEqual([]);
    expect((await instanceIds()).filter((i) => i.startsWith('dbops-verify-'))).toEqual([]);
    expect(await instance('orders-db')).toBeDefined();
    expect(await stepRows(tb, runId)).toEqual(CLOUD_STEPS('done'));
    expect(run.headline).toContain('Backup nightly-1 verified on a scratch DB instance: all 2 tables of rds-ok present and not empty');
    expect(factOf(run, 'Differences (not failures: the source moved on)')).toContain('public.orders: rds-ok has 50 more rows since the snapshot (450 → 500)');
    expect(factOf(run, 'Scratch DB instance')).toBe(`${scratch} (deleted)`);
    const text = await threadMessage(tb, runId, 'verified');
    for (const secret of ['127.0.0.1', 'amazonaws.com', 'testing-secret-key', 'arn:aws', PASSWORD]) expect(text).not.toContain(secret);
  });

  it('fails with a clear report when a table is missing in the restored copy, and still deletes the scratch instance', async () => {
    const runId = await queued(tb, 'backup verify rds-bad nightly-1');
    const run = await finished(tb, runId, 30_000);
    expect(run.state).toBe('failed');
    expect(run.error).toContain('Backup nightly-1 FAILED verification (1 problem):');
    expect(run.error).toContain('• public.customers: missing in the restored copy (rds-bad has it, 40 rows)');
    expect(run.error).toContain('public.orders: rds-bad has 50 more rows since the snapshot');
    expect(run.error).toContain(`The scratch copy ${scratchName(runId)} was deleted.`);
    expect(sent.filter((s) => s.action === 'DeleteDBInstance').map((s) => s.id)).toEqual([scratchName(runId)]);
    expect((await instanceIds()).filter((i) => i.startsWith('dbops-verify-'))).toEqual([]);
    expect(await stepRows(tb, runId)).toEqual(CLOUD_STEPS('failed'));
    const left = await threadMessage(tb, runId, 'State left');
    expect(left).toContain('The scratch DB instance was deleted. orders-db was only read.');
    expect(left).not.toContain('127.0.0.1');
  });

  it('refuses an unknown snapshot at request time, creating nothing', async () => {
    expect(await ask(tb, 'backup verify rds-ok nope-snap')).toContain('No snapshot `nope-snap` of rds-ok.');
    expect(sent.filter((s) => /^(Restore|Create|Delete)/.test(s.action))).toEqual([]);
  });

  it('deleteRunCopy(\'scratch\') only ever deletes a dbops-verify-… instance tagged with the run', async () => {
    const p = new AwsRdsProvider({ target: 'rds-ok', instance: 'orders-db', client: setup });
    await expect(p.deleteRunCopy('scratch', 'orders-db', 'r_0123456789ab')).rejects.toThrow(/is not a backup-verify scratch copy/);
    const stranger = 'dbops-verify-r-ffffffffffff';
    await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: stranger, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD }));
    await expect(p.deleteRunCopy('scratch', stranger, 'r_ffffffffffff')).rejects.toThrow(/does not carry this run's tags/);
    expect(await instance(stranger)).toBeDefined();
    expect(await instance('orders-db')).toBeDefined();
    expect(await p.deleteRunCopy('scratch', 'dbops-verify-r-000000000000', 'r_000000000000')).toMatchObject({ gone: true });
  });
});

describe('/db backup verify on aws-aurora (moto)', () => {
  it('restores the newest cluster snapshot into a scratch cluster with an instance, compares, deletes the instance then the cluster (no final snapshot)', async () => {
    const runId = await queued(tb, 'backup verify aurora-ok');
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    const scratch = scratchName(runId);
    const calls = sent.filter((x) => /^(RestoreDBCluster|CreateDBInstance|DeleteDB)/.test(x.action)).map((x) => [x.action, x.params.DBClusterIdentifier ?? x.params.DBInstanceIdentifier]);
    expect(calls[0]).toEqual(['RestoreDBClusterFromSnapshot', scratch]);
    expect(sent.find((x) => x.action === 'RestoreDBClusterFromSnapshot')!.params.SnapshotIdentifier).toBe('cluster-nightly');
    expect(calls.map((c) => c[0])).toEqual(['RestoreDBClusterFromSnapshot', 'CreateDBInstance', 'DeleteDBInstance', 'DeleteDBCluster']);
    expect(sent.find((x) => x.action === 'DeleteDBCluster')!.params.SkipFinalSnapshot).toBe('true');
    const clusters = ((await setup.send(new DescribeDBClustersCommand({}))).DBClusters ?? []).map((c) => c.DBClusterIdentifier);
    expect(clusters).toEqual(['orders-cluster']);
    expect((await instanceIds()).filter((i) => i.startsWith(scratch))).toEqual([]);
    expect(await instance('orders-cluster-a')).toBeDefined();
    expect(run.headline).toContain('Backup cluster-nightly verified on a scratch DB cluster: all 2 tables of aurora-ok present and not empty');
  });
});

describe('/db backup verify on azure-flexible (ARM fake)', () => {
  it('restores the newest backup into a scratch server, compares, deletes it with one DELETE', async () => {
    const runId = await queued(tb, 'backup verify pay');
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    const scratch = scratchName(runId);
    const puts = arm.putsTo(scratch);
    expect(puts).toHaveLength(1);
    expect(puts[0]!.body).toMatchObject({ tags: { 'dbops-restore-run': runId, 'dbops-target': 'pay' }, properties: { createMode: 'PointInTimeRestore' } });
    expect(arm.requests.filter((r) => r.method === 'DELETE').map((r) => r.path.split('/').at(-1))).toEqual([scratch]);
    expect(arm.servers.has(scratch)).toBe(false);
    expect(arm.servers.has(SERVER)).toBe(true);
    expect(run.headline).toContain('verified on a scratch flexible server');
    expect(factOf(run, 'Differences (not failures: the source moved on)')).toBe('none');
  });
});

describe('the verdict rule', () => {
  const t = (table: string, rows: number, exact = true) => ({ table, rows, exact });
  it('fails on a missing table or one empty in the copy but not in the source; warns on everything else', () => {
    const v = judge([t('a', 10), t('b', 0), t('c', 7), t('old', 3), t('e', 0)], [t('a', 12), t('b', 5), t('c', 5), t('d', 9, false), t('e', 0)], 'src');
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual(['b: empty in the restored copy, 5 rows in src', 'd: missing in the restored copy (src has it, ~9 rows)']);
    expect(v.warnings).toEqual(['a: src has 2 more rows since the snapshot (10 → 12)', 'c: src has 2 fewer rows than the snapshot (7 → 5)', 'old: only in the restored copy (3 rows; dropped from src since the snapshot?)']);
    expect(judge([t('a', 1)], [t('a', 3)], 'src').ok).toBe(true);
  });
});
