import { CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsRdsProvider } from '../../src/providers/aws-rds.js';
import { ProviderError } from '../../src/providers/errors.js';
import { snapshotId } from '../../src/providers/snapshot-id.js';
import { awsQueryError, injectFault, rewrite } from '../helpers/aws-faults.js';
import { startMoto, type Moto } from '../helpers/moto.js';

let moto: Moto;
let client: RDSClient;
let provider: AwsRdsProvider;
const INSTANCE = 'orders-prod';

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
  await client.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: INSTANCE,
      Engine: 'postgres',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'admin1',
      MasterUserPassword: 'secret-password-1',
      BackupRetentionPeriod: 7,
    }),
  );
  provider = new AwsRdsProvider({ target: 'orders-prod', instance: INSTANCE, client });
});

const id = (run: string) => snapshotId('orders-prod', run, new Date('2026-12-01T10:20:00Z'));

describe('aws-rds provider on moto', () => {
  it('creates a snapshot, polls it to available and lists it as manual', async () => {
    const start = await provider.startSnapshot(id('r1'));
    expect(start).toEqual({ checkpoint: { engine: 'aws-rds', snapshotId: 'dbops-orders-prod-202612011020-r1' }, alreadyStarted: false });
    const poll = await provider.pollSnapshot(start.checkpoint);
    expect(poll.done).toBe(true);
    expect(poll.snapshot).toMatchObject({ id: 'dbops-orders-prod-202612011020-r1', type: 'manual', status: 'available', sizeBytes: 20 * 1024 ** 3 });
    const manual = await provider.listSnapshots({ type: 'manual' });
    expect(manual.map((s) => s.id)).toEqual(['dbops-orders-prod-202612011020-r1']);
  });

  it('reports "creating" with progress for a few polls, then available', async () => {
    let polls = 0;
    injectFault(client, async (req, action, next) => {
      if (action !== 'DescribeDBSnapshots' || ++polls > 2) return undefined;
      return rewrite(req, next, (xml) => xml.replace('<Status>available</Status>', `<Status>creating</Status><PercentProgress>${polls * 40}</PercentProgress>`));
    });
    const { checkpoint } = await provider.startSnapshot(id('r2'));
    const seen = [];
    for (;;) {
      const p = await provider.pollSnapshot(checkpoint);
      seen.push(p.progress?.message);
      if (p.done) break;
      expect(p.snapshot?.status).toBe('creating');
    }
    expect(seen).toEqual(['creating, 40 %', 'creating, 80 %', 'available']);
  });

  it('treats "already exists" for our own id as already started (no second snapshot)', async () => {
    await provider.startSnapshot(id('r3'));
    const again = await provider.startSnapshot(id('r3'));
    expect(again.alreadyStarted).toBe(true);
    expect((await provider.listSnapshots({ type: 'manual' })).length).toBe(1);
  });

  it('refuses a name already used by another instance', async () => {
    await client.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'other', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'a1', MasterUserPassword: 'secret-password-1' }));
    await new AwsRdsProvider({ target: 'other', instance: 'other', client }).startSnapshot('shared-name');
    const err = await provider.startSnapshot('shared-name').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).reason).toBe('already_exists');
  });

  it('retries throttling with the SDK backoff, then succeeds', async () => {
    let throttled = 0;
    injectFault(client, async (_req, action) => (action === 'CreateDBSnapshot' && throttled++ < 2 ? awsQueryError(400, 'Throttling', 'Rate exceeded') : undefined));
    const start = await provider.startSnapshot(id('r4'));
    expect(throttled).toBe(3); // two refusals, then the third attempt passed through
    expect(start.alreadyStarted).toBe(false);
  });

  it('gives up on persistent throttling as throttled, in plain words', async () => {
    injectFault(client, async () => awsQueryError(400, 'Throttling', 'Rate exceeded'));
    const err = (await provider.startSnapshot(id('r5')).catch((e: unknown) => e)) as ProviderError;
    expect(err.reason).toBe('throttled');
    expect(err.userMessage).toMatch(/throttling.*Retry in a minute/);
  });

  it('maps access denied to access_denied with what to check, never the endpoint', async () => {
    injectFault(client, async () => awsQueryError(403, 'AccessDenied', 'User: arn:aws:iam::123456789012:user/bot is not authorized to perform: rds:CreateDBSnapshot'));
    const err = (await provider.startSnapshot(id('r6')).catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.reason).toBe('access_denied');
    expect(err.userMessage).toBe("AWS refused access to DB instance orders-prod. Check the bot's AWS credentials and that its IAM policy (or aws.roleArn) allows this RDS action.");
    expect(err.userMessage).not.toContain('127.0.0.1');
    expect(err.message).toContain('rds:CreateDBSnapshot'); // detail kept for the logs
  });

  it('maps an unknown instance to not_found', async () => {
    const p = new AwsRdsProvider({ target: 'ghost', instance: 'ghost', client });
    const err = (await p.startSnapshot(id('r7')).catch((e: unknown) => e)) as ProviderError;
    expect(err.reason).toBe('not_found');
    expect(err.userMessage).toContain('DB instance ghost does not exist');
  });

  it('lists automated and manual snapshots newest first, with a limit', async () => {
    await provider.startSnapshot(id('a'));
    await provider.startSnapshot(snapshotId('orders-prod', 'b', new Date('2026-12-01T11:00:00Z')));
    const automated = await provider.listSnapshots({ type: 'automated' });
    expect(automated.length).toBeGreaterThanOrEqual(1);
    expect(automated.every((s) => s.type === 'automated' && s.id.startsWith('rds:'))).toBe(true);
    const all = await provider.listSnapshots({ type: 'all' });
    expect(all.length).toBe(automated.length + 2);
    const times = all.map((s) => s.createdAt?.getTime() ?? 0);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(await provider.listSnapshots({ limit: 1 })).toHaveLength(1);
  });

  it('reads retention and the restorable window (earliest from the automated backups)', async () => {
    const w0 = await provider.restorableWindow();
    expect(w0.retentionDays).toBe(7);
    expect(w0.granularity).toBe('continuous');
    // moto has no RestoreWindow: add one on the wire to show where the earliest time comes from.
    injectFault(client, async (req, action, next) =>
      action === 'DescribeDBInstanceAutomatedBackups'
        ? rewrite(req, next, (xml) => xml.replace('</DBInstanceAutomatedBackup>', '<RestoreWindow><EarliestTime>2026-11-24T10:00:00Z</EarliestTime><LatestTime>2026-12-01T10:15:00Z</LatestTime></RestoreWindow></DBInstanceAutomatedBackup>'))
        : undefined,
    );
    const w = await provider.restorableWindow();
    expect(w.earliest?.toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(w.latest).toBeInstanceOf(Date);
  });
});
