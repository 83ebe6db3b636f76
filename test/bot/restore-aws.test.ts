// /db restore, cutover and rollback on aws-rds and aws-aurora, on the wire: Slack → bot → real AWS
// SDK → moto. The bot's RDS client is handed in (setProviderDeps) with its requestHandler wrapped, to
// record what it sends and to add what moto lacks (in-between states, lost answers, 500s). Restored
// "instances" are validated through the target's instanceUrl, which maps {instance} to a local
// database this file creates with the restored data.
import { AddTagsToResourceCommand, CreateDBInstanceCommand, CreateDBClusterCommand, CreateDBParameterGroupCommand, CreateDBSnapshotCommand, CreateDBSubnetGroupCommand, CreateDBClusterSnapshotCommand, DeleteDBInstanceCommand, DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setProviderDeps } from '../../src/runbooks/providers.js';
import { awsQueryError, injectFault, rewrite } from '../helpers/aws-faults.js';
import { confirmAbortClick } from '../helpers/abort-click.js';
import { ask, eventually, INCIDENTS, stateQuery, startTestBot, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { ADMIN_URL, adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { approve, finished, queued, requestCard as cardFor, type Card } from '../helpers/emergency-runs.js';
import { motoNetwork } from '../helpers/moto-ec2.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { stepRows, threadMessage } from '../helpers/snapshot-runs.js';

let moto: Moto;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let setup: RDSClient;
let sg: string;
const saved: Record<string, string | undefined> = {};
const PASSWORD = 'secret-password-1';
// Local databases standing in for restored instances: unique per run (other files share the server).
const tag = Math.random().toString(36).slice(2, 7);
const localDbs: string[] = [];

/** What the bot sent: action + the identifier it named, in order. */
const sent: Array<{ action: string; id?: string }> = [];
/** Describes of these instances answer this status for that many more looks. */
const statusFor = new Map<string, { status: string; looks: number }>();
/** One-shot faults by action. */
const faults: Array<{ action: string; times: number; status: number; code: string; afterForward?: boolean }> = [];

function botClient(): RDSClient {
  const client = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 3 });
  injectFault(client, async (req, action, next) => {
    const body = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
    const id = body.get('DBInstanceIdentifier') ?? body.get('TargetDBInstanceIdentifier') ?? body.get('DBClusterIdentifier') ?? undefined;
    sent.push({ action, ...(id ? { id } : {}) });
    const f = faults.find((x) => x.action === action && x.times > 0);
    if (f) {
      f.times--;
      if (f.afterForward) await next(req);
      return awsQueryError(f.status, f.code, 'injected');
    }
    const st = id && action === 'DescribeDBInstances' ? statusFor.get(id) : undefined;
    if (st && st.looks > 0) {
      // Only answers that show the instance count as a look (a NotFound before the rename does not).
      return rewrite(req, next, (xml) => {
        if (!xml.includes('<DBInstanceStatus>available</DBInstanceStatus>')) return xml;
        st.looks--;
        return xml.replace('<DBInstanceStatus>available</DBInstanceStatus>', `<DBInstanceStatus>${st.status}</DBInstanceStatus>`);
      });
    }
    return undefined;
  });
  return client;
}

async function instance(id: string): Promise<DBInstance | undefined> {
  try {
    return (await setup.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
  } catch {
    return undefined;
  }
}
const instanceIds = async () => ((await setup.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).map((d) => d.DBInstanceIdentifier!).sort();
const tagsOf = (d: DBInstance | undefined) => Object.fromEntries((d?.TagList ?? []).map((t) => [t.Key, t.Value]));
const output = async (runId: string, step: string) => (await stateQuery(tb, `SELECT output FROM run_steps WHERE run_id = $1 AND name = $2`, [runId, step])).rows[0]?.output;

/** A local database named like the restored instance, holding the "restored" data. */
async function restoredData(name: string, rows: number): Promise<void> {
  await adminQuery(`CREATE DATABASE "${name}"`);
  localDbs.push(name);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const c = await connect(u.toString());
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, ${rows}) g`);
  await c.end();
}

/** The approval card of a cutover/rollback: it names the restore run too, so its own id is the one after "Run". */
async function requestCard(t: TestBot, text: string): Promise<Card> {
  const card = await cardFor(t, text);
  return { ...card, runId: /Run `(r_[0-9a-f]{12})`/.exec(card.text)![1]! };
}

const today = () => new Date().toISOString().slice(0, 10).replace(/-/g, '');

beforeAll(async () => {
  moto = await startMoto();
  setup = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  const net = await motoNetwork(moto.endpoint, moto.region);
  sg = net.securityGroup;
  await setup.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: 'orders-subnets', DBSubnetGroupDescription: 'orders', SubnetIds: net.subnets }));
  await setup.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'orders-params', DBParameterGroupFamily: 'postgres16', Description: 'orders' }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD, BackupRetentionPeriod: 7, DBSubnetGroupName: 'orders-subnets', VpcSecurityGroupIds: [sg], DBParameterGroupName: 'orders-params', Tags: [{ Key: 'app', Value: 'orders' }] }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'other-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD }));
  await setup.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'orders-db', DBSnapshotIdentifier: 'before-delete' }));
  await setup.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: PASSWORD, BackupRetentionPeriod: 5, DBSubnetGroupName: 'orders-subnets', VpcSecurityGroupIds: [sg] }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-cluster-a', DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }));
  await setup.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'orders-cluster', DBClusterSnapshotIdentifier: 'cluster-before' }));
  // The source: the target's own database, after the "accidental DELETE".
  db = await createTestDatabase('rstaws');
  const c = await connect(db.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 500) g`);
  await c.end();
  const aws = { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing-secret-key', AWS_REGION: moto.region, DBOPS_POLL_INTERVAL_MS: '200' };
  for (const [k, v] of Object.entries(aws)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  setProviderDeps({ rds: botClient() });
  const instanceUrl = ADMIN_URL.replace(/\/[^/]*$/, '/{instance}');
  tb = await startTestBot({
    targets: targetsYaml({
      rds: `environment: staging\nengine: aws-rds\nurl: ${db.url}\ninstanceUrl: ${instanceUrl}\naws: { region: us-east-1, instance: orders-db }`,
      rdsp: `environment: production\nengine: aws-rds\nurl: ${db.url}\ninstanceUrl: ${instanceUrl}\naws: { region: us-east-1, instance: orders-db }`,
      aurora: `environment: staging\nengine: aws-aurora\nurl: ${db.url}\ninstanceUrl: ${instanceUrl}\naws: { region: us-east-1, cluster: orders-cluster }\nrestore: { instanceClass: db.r6g.xlarge }`,
    }),
    env: aws,
  });
}, 60_000);
afterAll(async () => {
  setProviderDeps({});
  await tb?.stop();
  setup?.destroy();
  await moto?.stop();
  await db?.drop();
  for (const n of localDbs) await adminQuery(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => undefined);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
beforeEach(() => {
  sent.length = 0;
  statusFor.clear();
  faults.length = 0;
});

describe('aws-rds', () => {
  it('pre-checks refuse a time outside the window, an unknown snapshot and a taken name, and create nothing', async () => {
    const before = await instanceIds();
    const snaps = ((await setup.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots ?? []).length;
    expect(await ask(tb, 'restore rds --to-time 2020-01-01T00:00:00Z')).toMatch(/Restore refused, nothing was created: 2020-01-01T00:00:00Z is outside the restorable window of DB instance orders-db \(20\d\d-.+ → 20\d\d-.+\)/);
    expect(await ask(tb, 'restore rds --snapshot no-such-snap')).toContain('Restore refused, nothing was created: No snapshot no-such-snap of DB instance orders-db.');
    expect(await ask(tb, 'restore rds --snapshot before-delete --as other-db')).toContain('A DB instance named other-db already exists. Choose another name with --as.');
    expect(await ask(tb, 'restore rds --snapshot before-delete --as Bad--name')).toContain('is not a valid DB instance identifier');
    expect(await instanceIds()).toEqual(before);
    expect(((await setup.send(new DescribeDBSnapshotsCommand({}))).DBSnapshots ?? []).length).toBe(snaps);
    expect(sent.filter((s) => /^Restore|^Create|^Modify/.test(s.action))).toEqual([]);
    expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE runbook = 'restore'`)).rows[0].n).toBe(0);
  });

  let restoreRun: string;
  const restored = `rst-${tag}-snap`;
  it('from a snapshot: pre-restore snapshot, a NEW instance with the source’s subnet group, security groups and parameter group, waited while creating, validated', async () => {
    await restoredData(restored, 1000);
    statusFor.set(restored, { status: 'creating', looks: 2 });
    restoreRun = await queued(tb, `restore rds --snapshot before-delete --as ${restored} --reason "bad DELETE"`);
    const run = await finished(tb, restoreRun, 30_000);
    expect(run.error).toBeNull();
    expect(run.state).toBe('succeeded');
    const d = await instance(restored);
    expect(d?.DBSubnetGroup?.DBSubnetGroupName).toBe('orders-subnets');
    expect(d?.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)).toEqual([sg]);
    expect(d?.DBParameterGroups?.map((g) => g.DBParameterGroupName)).toEqual(['orders-params']);
    expect(tagsOf(d)).toMatchObject({ 'dbops:restore-run': restoreRun, 'dbops:target': 'rds' });
    expect(sent.filter((s) => s.action === 'RestoreDBInstanceFromDBSnapshot')).toEqual([{ action: 'RestoreDBInstanceFromDBSnapshot', id: restored }]);
    // The pre-restore snapshot of the current state came first, deterministically named.
    const pre = (await output(restoreRun, 'pre-restore-snapshot')).snapshotId as string;
    expect(pre).toBe(`dbops-rds-pre-restore-${restoreRun.replace('_', '-')}`);
    expect(sent.findIndex((s) => s.action === 'CreateDBSnapshot')).toBeLessThan(sent.findIndex((s) => s.action === 'RestoreDBInstanceFromDBSnapshot'));
    // Two "creating" looks parked the run; the restore step stayed one attempt.
    expect(await stepRows(tb, restoreRun)).toEqual([
      { name: 'precheck', state: 'done', attempts: 1 },
      { name: 'pre-restore-snapshot', state: 'done', attempts: 1 },
      { name: 'restore', state: 'done', attempts: 1 },
      { name: 'validate', state: 'done', attempts: 1 },
    ]);
    const v = await output(restoreRun, 'validate');
    expect(v.sourceDiffers).toEqual(['public.orders: restored 1000, rds now 500']);
    const result = await threadMessage(tb, restoreRun, `/db cutover rds ${restoreRun}`);
    expect(result).toContain(`into the new DB instance ${restored}`);
    for (const secret of ['127.0.0.1', 'amazonaws.com', 'testing-secret-key', 'arn:aws']) expect(result).not.toContain(secret);
  });

  let cutoverRun: string;
  it('cutover: a rename swap, each rename waited on its NEW identifier (the old one is gone once renamed)', async () => {
    const old = `orders-db-old-${today()}`;
    // The renamed instance says "renaming" for a while: the run must keep looking at the new id.
    statusFor.set(old, { status: 'renaming', looks: 2 });
    const card = await requestCard(tb, `cutover rds ${restoreRun}`);
    expect(card.text).toContain(`1. orders-db → ${old}`);
    expect(card.text).toContain(`2. ${restored} → orders-db`);
    cutoverRun = card.runId;
    sent.length = 0;
    await approve(tb, card);
    const run = await finished(tb, cutoverRun, 30_000);
    expect(run.error).toBeNull();
    expect(tagsOf(await instance('orders-db'))['dbops:restore-run']).toBe(restoreRun);
    expect(tagsOf(await instance(old))).toMatchObject({ app: 'orders', 'dbops:swap-role': 'old', 'dbops:swap-was': 'orders-db' });
    expect(await instance(restored)).toBeUndefined();
    // The trap: between the first rename and the second, every look named the new id, never orders-db.
    const m1 = sent.findIndex((s) => s.action === 'ModifyDBInstance' && s.id === 'orders-db');
    const m2 = sent.findIndex((s) => s.action === 'ModifyDBInstance' && s.id === restored);
    expect(m1).toBeGreaterThan(-1);
    expect(m2).toBeGreaterThan(m1);
    const between = sent.slice(m1 + 1, m2);
    const waited = between.slice(0, between.map((s) => s.id).lastIndexOf(old) + 1).filter((s) => s.action === 'DescribeDBInstances');
    // Two "renaming" looks and the "available" one, all on the new id; orders-db is looked up only
    // afterwards, to check it is free for the second rename.
    expect(waited.filter((s) => s.id === old).length).toBeGreaterThanOrEqual(3);
    expect(waited.filter((s) => s.id === 'orders-db')).toEqual([]);
    expect(sent.slice(m2 + 1).some((s) => s.action === 'DescribeDBInstances' && s.id === 'orders-db')).toBe(true);
    expect(run.headline).toContain(`rds's DB instance orders-db is now the restored one (restore ${restoreRun}); the previous one is ${old}`);
  });

  it('rollback swaps the identifiers back', async () => {
    const card = await requestCard(tb, `rollback rds ${cutoverRun}`);
    expect(card.text).toContain(`1. orders-db → ${restored}`);
    await approve(tb, card);
    const run = await finished(tb, card.runId, 30_000);
    expect(run.error).toBeNull();
    expect(tagsOf(await instance('orders-db'))).toMatchObject({ app: 'orders' });
    expect(tagsOf(await instance('orders-db'))['dbops:restore-run']).toBeUndefined();
    expect(tagsOf(await instance(restored))['dbops:restore-run']).toBe(restoreRun);
    expect(await instance(`orders-db-old-${today()}`)).toBeUndefined();
  });

  it('cutover is refused when the -old- name exists (AWS would refuse the rename; moto would replace it)', async () => {
    const old = `orders-db-old-${today()}`;
    await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: old, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD }));
    try {
      const reply = await ask(tb, `cutover rds ${restoreRun}`);
      expect(reply).toContain(`A DB instance named ${old} already exists (an earlier cutover today?). Rename or delete it first; nothing was changed.`);
      expect(sent.filter((s) => s.action === 'ModifyDBInstance')).toEqual([]);
    } finally {
      await setup.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: old, SkipFinalSnapshot: true }));
    }
  });

  it('point in time: RestoreDBInstanceToPointInTime (RestoreTime) into a new instance, with the source’s groups', async () => {
    const name = `rst-${tag}-pitr`;
    await restoredData(name, 700);
    const at = new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const runId = await queued(tb, `restore rds --to-time ${at} --as ${name}`);
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    const d = await instance(name);
    // moto's point-in-time restore drops the subnet group unless it is passed: the bot passes it.
    expect(d?.DBSubnetGroup?.DBSubnetGroupName).toBe('orders-subnets');
    expect(d?.DBParameterGroups?.map((g) => g.DBParameterGroupName)).toEqual(['orders-params']);
    expect(sent.filter((s) => s.action === 'RestoreDBInstanceToPointInTime')).toHaveLength(1);
    expect((await output(runId, 'validate')).sourceDiffers).toEqual(['public.orders: restored 700, rds now 500']);
    expect(run.headline).toContain(`Restored point in time ${at} into the new DB instance ${name}`);
  });

  it('a lost restore answer retried by the SDK finds its own instance ("already exists") and goes on: one instance', async () => {
    const name = `rst-${tag}-lost`;
    await restoredData(name, 10);
    faults.push({ action: 'RestoreDBInstanceFromDBSnapshot', times: 1, status: 500, code: 'InternalFailure', afterForward: true });
    const runId = await queued(tb, `restore rds --snapshot before-delete --as ${name}`);
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    expect(sent.filter((s) => s.action === 'RestoreDBInstanceFromDBSnapshot')).toHaveLength(2);
    expect((await instanceIds()).filter((i) => i === name)).toEqual([name]);
    expect((await output(runId, 'restore')).alreadyRestored).toBe(true);
  });

  it('a restore that fails mid-way stops with what exists now; `/db run <id> resume` continues at that step: one instance, this run’s', async () => {
    const name = `rst-${tag}-fail`;
    await restoredData(name, 10);
    faults.push({ action: 'RestoreDBInstanceFromDBSnapshot', times: 10, status: 500, code: 'InternalFailure' });
    const runId = await queued(tb, `restore rds --snapshot before-delete --as ${name}`);
    const run = await finished(tb, runId, 30_000);
    expect(run.state).toBe('failed');
    expect(run.error).toContain('AWS could not be reached or answered with a server error');
    const left = await threadMessage(tb, runId, 'State left');
    expect(left).toContain(`The restored DB instance ${name} may exist`);
    expect(left).toContain('not cut over');
    expect(left).toContain(`\`/db run ${runId} resume\` goes on with it`);
    expect(left).not.toContain('127.0.0.1');
    expect(await instance(name)).toBeUndefined();
    faults.length = 0;
    sent.length = 0;
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/Resuming `r_[0-9a-f]{12}` at "Restoring into a new/);
    const done = await finished(tb, runId, 30_000);
    expect(done).toMatchObject({ state: 'succeeded', error: null });
    // The pre-checks and the pre-restore snapshot are not made again; the restore is sent once more.
    expect(sent.filter((x) => x.action === 'CreateDBSnapshot')).toEqual([]);
    expect(sent.filter((x) => x.action === 'RestoreDBInstanceFromDBSnapshot')).toHaveLength(1);
    expect((await stepRows(tb, runId)).map((r) => `${r.name}:${r.attempts}`)).toEqual(['precheck:1', 'pre-restore-snapshot:1', 'restore:2', 'validate:1']);
    expect(tagsOf(await instance(name))['dbops:restore-run']).toBe(runId);
  });

  it('production: validation fails (the new instance unreachable); a resume after the approval expired goes back to approval for the same plan, the run’s own instance not "a name taken"', async () => {
    const name = `rst-${tag}-pv`;
    const card = await cardFor(tb, `restore rdsp --snapshot before-delete --as ${name}`);
    await approve(tb, card);
    const run = await finished(tb, card.runId, 30_000);
    expect(run.state).toBe('failed');
    expect((await stepRows(tb, card.runId)).map((r) => `${r.name}:${r.state}`)).toEqual(['precheck:done', 'pre-restore-snapshot:done', 'restore:done', 'validate:failed']);
    expect(tagsOf(await instance(name))['dbops:restore-run']).toBe(card.runId);
    const plan = (await stateQuery(tb, `SELECT plan_hash FROM runs WHERE id = $1`, [card.runId])).rows[0].plan_hash;
    await stateQuery(tb, `UPDATE approvals SET at = now() - interval '2 days' WHERE run_id = $1`, [card.runId]);
    await restoredData(name, 20);

    const again = tb.fake.callsOf('chat.postMessage').length;
    expect(await ask(tb, `run ${card.runId} resume`)).toMatch(/needs a new approval to resume/);
    const fresh = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(again).find((c) => c.args.channel === INCIDENTS && /Resume of a failed run/.test(textOf(c.args as never))), 10_000, 'new card');
    expect((await stateQuery(tb, `SELECT state, plan_hash FROM runs WHERE id = $1`, [card.runId])).rows[0]).toEqual({ state: 'pending_approval', plan_hash: plan });
    sent.length = 0;
    await approve(tb, { ...card, cardTs: (fresh.response as { ts: string }).ts });
    expect(await finished(tb, card.runId, 30_000)).toMatchObject({ state: 'succeeded', error: null });
    expect((await stepRows(tb, card.runId)).map((r) => `${r.name}:${r.attempts}`)).toEqual(['precheck:1', 'pre-restore-snapshot:1', 'restore:1', 'validate:2']);
    expect(sent.filter((x) => /^Restore|^CreateDB/.test(x.action))).toEqual([]);
    expect((await output(card.runId, 'validate')).sourceDiffers).toEqual(['public.orders: restored 20, rdsp now 500']);
  });

  it('abort of a failed restore deletes the new instance behind a confirmation; the source, its snapshot and the pre-restore snapshot stay', async () => {
    const name = `rst-${tag}-ab`;
    const runId = await queued(tb, `restore rds --snapshot before-delete --as ${name}`);
    expect((await finished(tb, runId, 30_000)).state).toBe('failed');
    expect(await instance(name)).toBeDefined();
    const pre = (await output(runId, 'pre-restore-snapshot')).snapshotId as string;
    const offer = await ask(tb, `run ${runId} abort`);
    expect(offer).toContain(`Would remove*\n• the new DB instance ${name}\n*Keeps*`);
    expect(offer).toContain(`the pre-restore snapshot ${pre}`);
    expect(await instance(name)).toBeDefined();
    const report = await confirmAbortClick(tb, runId);
    expect(report).toContain(`Removed*\n• the new DB instance ${name}\n*Kept*`);
    expect(await instance(name)).toBeUndefined();
    expect(await instance('orders-db')).toBeDefined();
    const snaps = ((await setup.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'orders-db' }))).DBSnapshots ?? []).map((x) => x.DBSnapshotIdentifier);
    expect(snaps).toEqual(expect.arrayContaining(['before-delete', pre]));
    expect(sent.filter((x) => x.action === 'DeleteDBInstance')).toEqual([{ action: 'DeleteDBInstance', id: name }]);
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/was aborted/);
  });

  it('abort leaves alone a new instance that is not this run’s (another run took the name meanwhile)', async () => {
    const name = `rst-${tag}-ab2`;
    const runId = await queued(tb, `restore rds --snapshot before-delete --as ${name}`);
    expect((await finished(tb, runId, 30_000)).state).toBe('failed');
    await setup.send(new AddTagsToResourceCommand({ ResourceName: (await instance(name))!.DBInstanceArn!, Tags: [{ Key: 'dbops:restore-run', Value: 'r_someoneelse0' }] }));
    const offer = await ask(tb, `run ${runId} abort`);
    expect(offer).toContain(`the DB instance ${name}: it is not this run's`);
    expect(offer).toContain('There is nothing to remove.');
    expect(await instance(name)).toBeDefined();
  });
});

describe('aws-aurora', () => {
  it('point in time: RestoreDBClusterToPointInTime (RestoreToTime), then CreateDBInstance into the new cluster; validated', async () => {
    const name = `rst-${tag}-aur`;
    await restoredData(name, 900);
    const at = new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    statusFor.set(`${name}-1`, { status: 'creating', looks: 2 });
    const runId = await queued(tb, `restore aurora --to-time ${at} --as ${name}`);
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    const c = (await setup.send(new DescribeDBClustersCommand({ DBClusterIdentifier: name }))).DBClusters![0]!;
    expect(c.DBSubnetGroup).toBe('orders-subnets');
    expect(c.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)).toEqual([sg]);
    expect(Object.fromEntries((c.TagList ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({ 'dbops:restore-run': runId });
    const inst = await instance(`${name}-1`);
    expect(inst?.DBClusterIdentifier).toBe(name);
    // The targets file's restore.instanceClass overrides the source writer's class.
    expect(inst?.DBInstanceClass).toBe('db.r6g.xlarge');
    const order = sent.filter((s) => ['RestoreDBClusterToPointInTime', 'CreateDBInstance'].includes(s.action));
    expect(order).toEqual([{ action: 'RestoreDBClusterToPointInTime', id: name }, { action: 'CreateDBInstance', id: `${name}-1` }]);
    expect((await output(runId, 'validate')).sourceDiffers).toEqual(['public.orders: restored 900, aurora now 500']);
    expect(run.headline).toContain(`into the new DB cluster ${name}`);
    auroraRestore = { runId, name };
  });

  let auroraRestore: { runId: string; name: string };
  let auroraCutover: string;
  const clusterTags = async (id: string) => {
    try {
      const c = (await setup.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
      return c ? Object.fromEntries((c.TagList ?? []).map((t) => [t.Key, t.Value])) : undefined;
    } catch {
      return undefined;
    }
  };
  it('cutover renames the clusters (ModifyDBCluster NewDBClusterIdentifier), each waited on its new id; rollback swaps them back', async () => {
    const { runId, name } = auroraRestore;
    const old = `orders-cluster-old-${today()}`;
    const card = await requestCard(tb, `cutover aurora ${runId}`);
    expect(card.text).toContain(`1. orders-cluster → ${old}`);
    expect(card.text).toContain(`2. ${name} → orders-cluster`);
    auroraCutover = card.runId;
    sent.length = 0;
    await approve(tb, card);
    const run = await finished(tb, auroraCutover, 60_000);
    expect(run.error).toBeNull();
    expect((await clusterTags('orders-cluster'))?.['dbops:restore-run']).toBe(runId);
    expect(await clusterTags(old)).toMatchObject({ 'dbops:swap-role': 'old', 'dbops:swap-was': 'orders-cluster' });
    expect(await clusterTags(name)).toBeUndefined();
    expect(sent.filter((x) => x.action === 'ModifyDBCluster').map((x) => x.id)).toEqual(['orders-cluster', name]);

    const back = await requestCard(tb, `rollback aurora ${auroraCutover}`);
    expect(back.text).toContain(`1. orders-cluster → ${name}`);
    await approve(tb, back);
    expect((await finished(tb, back.runId, 60_000)).error).toBeNull();
    expect((await clusterTags('orders-cluster'))?.['dbops:restore-run']).toBeUndefined();
    expect((await clusterTags(name))?.['dbops:restore-run']).toBe(runId);
    expect(await clusterTags(old)).toBeUndefined();
  });

  it('abort of a failed cluster restore deletes the cluster’s instance, then the cluster (several looks), nothing else', async () => {
    const name = `rst-${tag}-aab`;
    const at = new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const runId = await queued(tb, `restore aurora --to-time ${at} --as ${name}`);
    expect((await finished(tb, runId, 30_000)).state).toBe('failed');
    expect(await instance(`${name}-1`)).toBeDefined();
    await ask(tb, `run ${runId} abort`);
    sent.length = 0;
    const report = await confirmAbortClick(tb, runId);
    expect(report).toContain(`Removed*\n• the new DB cluster ${name}\n*Kept*`);
    expect(await instance(`${name}-1`)).toBeUndefined();
    const clusters = ((await setup.send(new DescribeDBClustersCommand({}))).DBClusters ?? []).map((c) => c.DBClusterIdentifier);
    expect(clusters).toContain('orders-cluster');
    expect(clusters).not.toContain(name);
    expect(await instance('orders-cluster-a')).toBeDefined();
    expect(sent.filter((x) => x.action.startsWith('Delete'))).toEqual([{ action: 'DeleteDBInstance', id: `${name}-1` }, { action: 'DeleteDBCluster', id: name }]);
  });

  it('an unknown cluster snapshot is refused at pre-check', async () => {
    expect(await ask(tb, 'restore aurora --snapshot nope')).toContain('No snapshot nope of DB cluster orders-cluster.');
  });
});
