// /db failover, scale and retention on AWS RDS and Aurora, on the wire: Slack → bot → real AWS SDK → moto.
// The bot's own client (AWS_ENDPOINT_URL from the environment) serves most tests; the ones that
// need faults or a request count hand the provider layer a client whose requestHandler is wrapped.
import { CreateDBClusterCommand, CreateDBInstanceCommand, DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setProviderDeps } from '../../src/runbooks/providers.js';
import { awsQueryError, injectFault, rewrite } from '../helpers/aws-faults.js';
import { ask, startTestBot, targetsYaml, type TestBot } from '../helpers/bot.js';
import { createTestDatabase } from '../helpers/db.js';
import { approve, factOf, finished, queued, requestCard } from '../helpers/emergency-runs.js';
import { startMoto, type Moto } from '../helpers/moto.js';

let moto: Moto;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let setup: RDSClient;
const saved: Record<string, string | undefined> = {};
const PASSWORD = 'secret-password-1';

/** A client like the bot's, for injecting faults and counting the actions it sends. */
function wiredClient(): { client: RDSClient; actions: string[]; bodies: string[] } {
  const client = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 5 });
  const actions: string[] = [];
  const bodies: string[] = [];
  injectFault(client, async (req, action) => {
    actions.push(action);
    bodies.push(typeof req.body === 'string' ? req.body : '');
    return undefined;
  });
  return { client, actions, bodies };
}

async function writerOf(cluster: string): Promise<string | undefined> {
  const r = await setup.send(new DescribeDBClustersCommand({ DBClusterIdentifier: cluster }));
  return r.DBClusters?.[0]?.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
}

beforeAll(async () => {
  moto = await startMoto();
  db = await createTestDatabase('emaws');
  setup = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  await setup.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: PASSWORD, BackupRetentionPeriod: 5, ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } }));
  for (const [id, az] of [['orders-cluster-1', 'us-east-1a'], ['orders-cluster-2', 'us-east-1b']] as const) {
    await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, DBClusterIdentifier: 'orders-cluster', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless', AvailabilityZone: az }));
  }
  await setup.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'solo-cluster', Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: PASSWORD }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'solo-1', DBClusterIdentifier: 'solo-cluster', Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'maz-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD, MultiAZ: true, BackupRetentionPeriod: 7 }));
  await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'single-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin1', MasterUserPassword: PASSWORD, MultiAZ: false, BackupRetentionPeriod: 7 }));
  const aws = { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing-secret-key', AWS_REGION: moto.region, DBOPS_POLL_INTERVAL_MS: '200' };
  // The bot runs in this process: the SDK's default chain and the poll interval read process.env.
  for (const [k, v] of Object.entries(aws)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  tb = await startTestBot({
    targets: targetsYaml({
      aurora: `environment: staging\nengine: aws-aurora\nurl: ${db.url}\naws: { region: us-east-1, cluster: orders-cluster }`,
      solo: `environment: staging\nengine: aws-aurora\nurl: ${db.url}\naws: { region: us-east-1, cluster: solo-cluster }`,
      maz: `environment: staging\nengine: aws-rds\nurl: ${db.url}\naws: { region: us-east-1, instance: maz-db }`,
      single: `environment: staging\nengine: aws-rds\nurl: ${db.url}\naws: { region: us-east-1, instance: single-db }`,
      local: `environment: staging\nengine: self-hosted\nurl: ${db.url}`,
    }),
    env: aws,
  });
}, 60_000);
afterEach(() => setProviderDeps({}));
afterAll(async () => {
  setProviderDeps({});
  await tb?.stop();
  setup?.destroy();
  await moto?.stop();
  await db?.drop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('/db failover', () => {
  it('Aurora: the card shows the writer and members; approved, the writer really changes in moto and the result says before, after and how long', async () => {
    expect(await writerOf('orders-cluster')).toBe('orders-cluster-1');
    const card = await requestCard(tb, 'failover aurora --reason "writer degraded"');
    expect(card.text).toContain('orders-cluster-1 (us-east-1a)');
    expect(card.text).toMatch(/reader\s+orders-cluster-2 us-east-1b available/);
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('succeeded');
    expect(await writerOf('orders-cluster')).toBe('orders-cluster-2');
    expect(factOf(run, 'Before')).toBe('orders-cluster-1 (us-east-1a)');
    expect(factOf(run, 'After')).toBe('orders-cluster-2 (us-east-1b)');
    expect(factOf(run, 'Time taken')).toBeTruthy();
    expect(run.headline).toContain('Failover of aurora done: writer orders-cluster-1 (us-east-1a) → orders-cluster-2 (us-east-1b)');
    expect(run.result?.warning).toBeUndefined();
  }, 40_000);

  it('--to: the named reader is promoted (TargetDBInstanceIdentifier); naming the writer or a stranger is refused at plan time', async () => {
    expect(await ask(tb, 'failover aurora --to orders-cluster-2')).toContain('`--to orders-cluster-2` is the writer already');
    expect(await ask(tb, 'failover aurora --to nope-9')).toContain('is not an instance of this cluster');
    const w = wiredClient();
    setProviderDeps({ rds: w.client });
    const card = await requestCard(tb, 'failover aurora --to orders-cluster-1');
    await approve(tb, card);
    expect((await finished(tb, card.runId)).state).toBe('succeeded');
    expect(w.bodies.find((b) => b.includes('Action=FailoverDBCluster'))).toContain('TargetDBInstanceIdentifier=orders-cluster-1');
    expect(await writerOf('orders-cluster')).toBe('orders-cluster-1');
  }, 40_000);

  it('RDS Multi-AZ: RebootDBInstance with ForceFailover=true; the zone before and after is reported', async () => {
    const w = wiredClient();
    let rebooted = false;
    // moto reboots in place; AWS moves the primary to the standby's zone: show that after the reboot.
    injectFault(w.client, async (req, action, next) => {
      if (action === 'RebootDBInstance') rebooted = true;
      if (action === 'DescribeDBInstances' && rebooted) return rewrite(req, next, (xml) => xml.replace('<AvailabilityZone>us-east-1a</AvailabilityZone>', '<AvailabilityZone>us-east-1b</AvailabilityZone>'));
      return undefined;
    });
    setProviderDeps({ rds: w.client });
    const card = await requestCard(tb, 'failover maz');
    expect(card.text).toContain('maz-db (us-east-1a)');
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('succeeded');
    const reboot = w.bodies.find((b) => b.includes('Action=RebootDBInstance'))!;
    expect(reboot).toContain('ForceFailover=true');
    expect(reboot).toContain('DBInstanceIdentifier=maz-db');
    expect(factOf(run, 'Before')).toBe('maz-db (us-east-1a)');
    expect(factOf(run, 'After')).toBe('maz-db (us-east-1b)');
  }, 40_000);

  it('refused at plan time, with the reason and no approval card: Single-AZ instance, one-instance cluster, self-hosted, flags of another engine', async () => {
    const w = wiredClient();
    setProviderDeps({ rds: w.client });
    expect(await ask(tb, 'failover single')).toContain('single cannot fail over: DB instance single-db is Single-AZ (MultiAZ off): there is no standby to fail over to');
    expect(await ask(tb, 'failover solo')).toContain('DB cluster solo-cluster has one instance (solo-1): a failover needs a reader to promote');
    expect(await ask(tb, 'failover local')).toContain('`/db failover` is not on self-hosted');
    expect(await ask(tb, 'failover maz --to other')).toContain('`--to` names an Aurora reader');
    expect(await ask(tb, 'failover aurora --forced')).toContain("`--forced` is Azure's ForcedFailover");
    expect(w.actions.filter((a) => a === 'RebootDBInstance' || a === 'FailoverDBCluster')).toEqual([]);
    expect(tb.fake.callsOf('chat.postMessage').filter((c) => /Approval needed/.test(JSON.stringify(c.args)) && /single|solo/.test(JSON.stringify(c.args)))).toEqual([]);
  }, 30_000);

  it('a wrong-state answer (InvalidDBClusterStateFault) fails the run with a plain message, no ARN or request id', async () => {
    const w = wiredClient();
    const writer = await writerOf('orders-cluster');
    let answered = 0;
    injectFault(w.client, async (_req, action) => (action === 'FailoverDBCluster' && ++answered ? awsQueryError(400, 'InvalidDBClusterStateFault', 'DbCluster arn:aws:rds:us-east-1:123456789012:cluster:orders-cluster is not in available state') : undefined));
    setProviderDeps({ rds: w.client });
    const card = await requestCard(tb, 'failover aurora');
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('failed');
    expect(run.error).toContain('DB cluster orders-cluster is not in a state that allows this right now');
    expect(run.error).not.toMatch(/arn:|123456789012|fault-1/);
    // A client error is not retried, and the step is not run again on its own.
    expect(answered).toBe(1);
    expect(await writerOf('orders-cluster')).toBe(writer);
  }, 30_000);
});

describe('/db scale', () => {
  it('out of range: refused before any AWS call, one reason per problem', async () => {
    const w = wiredClient();
    setProviderDeps({ rds: w.client });
    expect(await ask(tb, 'scale aurora --min 0.25 --max 8')).toContain('--min 0.25 is below 0.5 ACU');
    expect(await ask(tb, 'scale aurora --min 4 --max 2')).toContain('--min 4 is above --max 2');
    expect(await ask(tb, 'scale aurora --min 1 --max 300')).toContain('--max 300 is outside Aurora Serverless v2');
    expect(await ask(tb, 'scale aurora --min 1 --max 7.3')).toContain('--max 7.3 is not a multiple of 0.5 ACU');
    expect(await ask(tb, 'scale aurora --min 0 --max 0.5')).toContain('--max must be at least 1 ACU');
    expect(await ask(tb, 'scale aurora --min 1')).toContain('needs `--max`');
    expect(await ask(tb, 'scale maz --min 1 --max 4')).toContain('`/db scale` is not on aws-rds');
    expect(w.actions).toEqual([]);
  }, 30_000);

  it('in range: the card shows the range now and what it means for max_connections; approved, DescribeDBClusters has the new range', async () => {
    const card = await requestCard(tb, 'scale aurora --min 1 --max 16');
    expect(card.text).toContain('0.5–4 ACU');
    expect(card.text).toContain('≈ 823 → ≈ 3360');
    expect(card.text).toContain('2 of 2');
    expect(card.text).toContain('Approximate');
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('succeeded');
    const c = (await setup.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders-cluster' }))).DBClusters![0]!;
    expect(c.ServerlessV2ScalingConfiguration).toEqual({ MinCapacity: 1, MaxCapacity: 16 });
    expect(run.headline).toBe('aurora scales 1–16 ACU (was 0.5–4 ACU)');
  }, 40_000);

  it('throttled twice, then accepted: the SDK retries and the run succeeds', async () => {
    const w = wiredClient();
    let sent = 0;
    injectFault(w.client, async (_req, action) => (action === 'ModifyDBCluster' && ++sent <= 2 ? awsQueryError(400, 'Throttling', 'Rate exceeded') : undefined));
    setProviderDeps({ rds: w.client });
    const card = await requestCard(tb, 'scale aurora --min 2 --max 8');
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('succeeded');
    expect(sent).toBe(3);
    expect(w.actions.filter((a) => a === 'ModifyDBCluster')).toHaveLength(1);
    const c = (await setup.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders-cluster' }))).DBClusters![0]!;
    expect(c.ServerlessV2ScalingConfiguration).toEqual({ MinCapacity: 2, MaxCapacity: 8 });
  }, 40_000);
});

describe('/db retention', () => {
  it('raising is a change (runs without approval here); lowering is refused without --shrink; --shrink is destructive and approved', async () => {
    const up = await queued(tb, 'retention aurora 10');
    expect((await finished(tb, up)).state).toBe('succeeded');
    const cl = async () => (await setup.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders-cluster' }))).DBClusters![0]!.BackupRetentionPeriod;
    expect(await cl()).toBe(10);

    const refused = await ask(tb, 'retention aurora 3');
    expect(refused).toContain('Lowering the retention of aurora from 10 to 3 days shrinks the restorable window');
    expect(refused).toContain('--shrink');
    expect(await ask(tb, 'retention aurora 12 --shrink')).toContain('is an increase: drop `--shrink`');
    expect(await ask(tb, 'retention aurora 40')).toContain('aws-aurora keeps automated backups 1–35 days');
    expect(await ask(tb, 'retention aurora 0')).toContain('1–35 days');
    expect(await ask(tb, 'retention aurora 10')).toContain('already keeps automated backups 10 days');
    expect(await ask(tb, 'retention local 7')).toContain('not on self-hosted');

    const card = await requestCard(tb, 'retention aurora 3 --shrink --reason "cost review"');
    expect(card.text).toContain('10 → 3 days');
    expect(card.text).toContain('restore points older than that are deleted');
    await approve(tb, card);
    const run = await finished(tb, card.runId);
    expect(run.state).toBe('succeeded');
    expect(await cl()).toBe(3);
    expect(run.headline).toBe('aurora keeps automated backups 3 days (was 10)');
  }, 40_000);

  it('RDS: ModifyDBInstance BackupRetentionPeriod, 0 is in range and its outage is on the card', async () => {
    const w = wiredClient();
    setProviderDeps({ rds: w.client });
    const up = await queued(tb, 'retention single 14');
    expect((await finished(tb, up)).state).toBe('succeeded');
    expect(w.bodies.find((b) => b.includes('Action=ModifyDBInstance'))).toMatch(/BackupRetentionPeriod=14.*|.*BackupRetentionPeriod=14/);
    const card = await requestCard(tb, 'retention single 0 --shrink');
    expect(card.text).toContain('0 turns automated backups and point-in-time restore off');
    expect(card.text).toContain('brief outage');
  }, 30_000);
});
