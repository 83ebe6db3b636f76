import { CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbopsError } from '../../src/errors.js';
import { AwsAuroraProvider } from '../../src/providers/aws-aurora.js';
import { AwsRdsProvider } from '../../src/providers/aws-rds.js';
import { AzureFlexibleProvider } from '../../src/providers/azure-flexible.js';
import { ENGINE_CAPABILITIES, providerFor, ProviderError, requireCapability, sanitizeSnapshotName, snapshotId } from '../../src/providers/index.js';
import { SNAPSHOT_ID_RE } from '../../src/providers/snapshot-id.js';
import { SelfHostedProvider } from '../../src/providers/self-hosted.js';
import { stubCredential, SUBSCRIPTION } from '../helpers/arm-fake.js';
import { startMoto, type Moto } from '../helpers/moto.js';

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const base = { url: 'postgres://u:secret@db.internal:5432/app' };

describe('snapshotId', () => {
  it('is dbops-<target>-<yyyymmddhhmm UTC>-<run>, stable for the same run and minute', () => {
    const d = new Date('2026-12-01T10:20:59.999Z');
    expect(snapshotId('orders-prod', 42, d)).toBe('dbops-orders-prod-202612011020-42');
    expect(snapshotId('orders-prod', 42, new Date('2026-12-01T10:20:00Z'))).toBe(snapshotId('orders-prod', 42, d));
  });

  it('sanitises into a valid RDS identifier (letters, digits, single hyphens, no trailing hyphen)', () => {
    const id = snapshotId('Orders__Prod--EU_', 'run_7f3a-9c2b--x', new Date('2026-01-02T03:04:00Z'));
    expect(id).toBe('dbops-orders-prod-eu-202601020304-run-7f3a-9c2b-x');
    expect(id).toMatch(SNAPSHOT_ID_RE);
    const long = snapshotId('t'.repeat(300), 'r'.repeat(300), new Date());
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long).toMatch(SNAPSHOT_ID_RE);
    expect(snapshotId('___', '--', new Date('2026-01-02T03:04:00Z'))).toBe('dbops-target-202601020304-run');
  });

  it('sanitises a user --name, or refuses one with nothing usable', () => {
    expect(sanitizeSnapshotName('Before Migration #42')).toBe('before-migration-42');
    expect(sanitizeSnapshotName('2026 release')).toBe('s-2026-release');
    expect(sanitizeSnapshotName('***')).toBeUndefined();
  });
});

describe('providerFor', () => {
  it('builds each engine with its capabilities', () => {
    const rds = new RDSClient({ region: 'us-east-1' });
    const aws = providerFor({ ...base, name: 'a', engine: 'aws-rds', aws: { region: 'us-east-1', instance: 'i1' } }, { rds });
    expect(aws).toBeInstanceOf(AwsRdsProvider);
    expect([...aws.capabilities]).toEqual(['snapshot', 'list', 'window', 'verify', 'restore', 'pitr', 'rename', 'failover', 'retention']);
    expect(providerFor({ ...base, name: 'b', engine: 'aws-aurora', aws: { region: 'us-east-1', cluster: 'c1' } }, { rds })).toBeInstanceOf(AwsAuroraProvider);
    const az = providerFor({ ...base, name: 'c', engine: 'azure-flexible', azure: { subscription: SUBSCRIPTION, resourceGroup: 'rg', server: 's' } }, { azureCredential: stubCredential });
    expect(az).toBeInstanceOf(AzureFlexibleProvider);
    const sh = providerFor({ ...base, name: 'd', engine: 'self-hosted', backups: { store: '/var/backups/dbops', keep: 7 } });
    expect(sh).toBeInstanceOf(SelfHostedProvider);
    expect(sh.verify).toBeTypeOf('function');
    // Cloud engines verify through a scratch instance (restore + deleteRunCopy('scratch')), not provider.verify.
    expect(aws.verify).toBeUndefined();
    expect(aws.deleteRunCopy).toBeTypeOf('function');
    rds.destroy();
  });

  it('says which targets-file field is missing, without the connection string', () => {
    const err = (() => {
      try {
        providerFor({ ...base, name: 'd', engine: 'self-hosted' });
      } catch (e) {
        return e as DbopsError;
      }
    })();
    expect(err).toBeInstanceOf(DbopsError);
    expect(err?.userMessage).toBe('Target d (self-hosted) needs backups.store (a directory or s3://bucket/prefix) in the targets file.');
    expect(() => providerFor({ ...base, name: 'e', engine: 'aws-rds', aws: { region: 'eu-west-1' } })).toThrow(/needs aws.instance/);
  });

  it('uses the AWS default credential chain and AWS_ENDPOINT_URL, as the SDK does', async () => {
    Object.assign(process.env, { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
    const setup = new RDSClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: moto.credentials });
    await setup.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'envdb', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'a1', MasterUserPassword: 'secret-password-1', BackupRetentionPeriod: 3 }));
    setup.destroy();
    const p = providerFor({ ...base, name: 'envdb', engine: 'aws-rds', aws: { region: 'us-east-1', instance: 'envdb' } });
    expect((await p.restorableWindow()).retentionDays).toBe(3);
  });

  it('derives the capability matrix and refuses what an engine cannot do, in plain words', () => {
    expect(ENGINE_CAPABILITIES['self-hosted'].has('verify')).toBe(true);
    expect(() => requireCapability('self-hosted', 'verify', '/db backup verify')).not.toThrow();
    try {
      requireCapability('azure-flexible', 'rename', '/db cutover');
      expect.fail('should refuse');
    } catch (e) {
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).reason).toBe('unsupported');
      expect((e as ProviderError).userMessage).toBe('`/db cutover` is not on azure-flexible: this engine supports snapshot, list, window, verify, restore, pitr, failover, retention.');
    }
  });
});
