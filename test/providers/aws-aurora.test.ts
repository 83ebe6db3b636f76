import { CreateDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsAuroraProvider } from '../../src/providers/aws-aurora.js';
import { ProviderError } from '../../src/providers/errors.js';
import { snapshotId } from '../../src/providers/snapshot-id.js';
import { awsQueryError, injectFault, rewrite } from '../helpers/aws-faults.js';
import { startMoto, type Moto } from '../helpers/moto.js';

let moto: Moto;
let client: RDSClient;
let provider: AwsAuroraProvider;
const CLUSTER = 'billing-aurora';

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  client?.destroy();
  client = new RDSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 4 });
  await client.send(new CreateDBClusterCommand({ DBClusterIdentifier: CLUSTER, Engine: 'aurora-postgresql', MasterUsername: 'admin1', MasterUserPassword: 'secret-password-1', BackupRetentionPeriod: 5 }));
  provider = new AwsAuroraProvider({ target: 'billing', cluster: CLUSTER, client });
});

const id = (run: string) => snapshotId('billing', run, new Date('2026-12-01T10:20:00Z'));

describe('aws-aurora provider on moto', () => {
  it('creates a cluster snapshot, "creating" for two polls, then available', async () => {
    let polls = 0;
    injectFault(client, async (req, action, next) => {
      if (action !== 'DescribeDBClusterSnapshots' || ++polls > 2) return undefined;
      return rewrite(req, next, (xml) => xml.replace('<Status>available</Status>', '<Status>creating</Status>').replace(/<PercentProgress>\d+</, `<PercentProgress>${polls * 30}<`));
    });
    const { checkpoint, alreadyStarted } = await provider.startSnapshot(id('r1'));
    expect(alreadyStarted).toBe(false);
    const percents: (number | undefined)[] = [];
    let last;
    do {
      last = await provider.pollSnapshot(checkpoint);
      percents.push(last.progress?.percent);
    } while (!last.done);
    expect(percents).toEqual([30, 60, 100]);
    expect(last.snapshot).toMatchObject({ id: 'dbops-billing-202612011020-r1', type: 'manual', status: 'available' });
  });

  it('treats "already exists" for our own id as already started', async () => {
    await provider.startSnapshot(id('r2'));
    expect((await provider.startSnapshot(id('r2'))).alreadyStarted).toBe(true);
    expect(await provider.listSnapshots({ type: 'manual' })).toHaveLength(1);
  });

  it('retries throttling then succeeds; access denied is access_denied', async () => {
    let n = 0;
    const remove = injectFault(client, async (_req, action) => (action === 'CreateDBClusterSnapshot' && n++ < 1 ? awsQueryError(400, 'ThrottlingException', 'slow down') : undefined));
    expect((await provider.startSnapshot(id('r3'))).alreadyStarted).toBe(false);
    expect(n).toBe(2);
    remove();
    injectFault(client, async () => awsQueryError(403, 'AccessDenied', 'not authorized'));
    const err = (await provider.listSnapshots().catch((e: unknown) => e)) as ProviderError;
    expect(err.reason).toBe('access_denied');
    expect(err.userMessage).toContain('DB cluster billing-aurora');
  });

  it('a failed snapshot is a ProviderError("failed") that says what to check', async () => {
    const { checkpoint } = await provider.startSnapshot(id('r4'));
    injectFault(client, async (req, action, next) => (action === 'DescribeDBClusterSnapshots' ? rewrite(req, next, (x) => x.replace('<Status>available</Status>', '<Status>failed</Status>')) : undefined));
    const err = (await provider.pollSnapshot(checkpoint).catch((e: unknown) => e)) as ProviderError;
    expect(err.reason).toBe('failed');
    expect(err.userMessage).toMatch(/failed.*RDS events/);
  });

  it('lists manual and automated, and reads the window from the cluster', async () => {
    await provider.startSnapshot(id('r5'));
    const all = await provider.listSnapshots({ type: 'all' });
    expect(all.some((s) => s.type === 'manual')).toBe(true);
    for (const s of await provider.listSnapshots({ type: 'automated' })) expect(s.type).toBe('automated');
    const w = await provider.restorableWindow();
    expect(w.retentionDays).toBe(5);
    expect(w.granularity).toBe('continuous');
    expect(w.earliest).toBeInstanceOf(Date);
    // Pin the times on the wire to show both come from the cluster as they are.
    injectFault(client, async (req, action, next) =>
      action === 'DescribeDBClusters'
        ? rewrite(req, next, (x) =>
            x
              .replace(/<EarliestRestorableTime>[^<]*</, '<EarliestRestorableTime>2026-11-26T00:00:00Z<')
              .replace(/<LatestRestorableTime>[^<]*</, '<LatestRestorableTime>2026-12-01T10:00:00Z<'),
          )
        : undefined,
    );
    const w2 = await provider.restorableWindow();
    expect(w2.earliest?.toISOString()).toBe('2026-11-26T00:00:00.000Z');
    expect(w2.latest?.toISOString()).toBe('2026-12-01T10:00:00.000Z');
  });
});
