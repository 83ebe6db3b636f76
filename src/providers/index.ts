/**
 * The provider layer's front door: `providerFor(target)` builds the engine's provider with clients
 * made the ecosystem's way (AWS default chain + AWS_ENDPOINT_URL*, optional assume-role;
 * DefaultAzureCredential), or with injected ones (tests, custom endpoints).
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import type { S3Client } from '@aws-sdk/client-s3';
import { PostgreSQLManagementFlexibleServerClient, type PostgreSQLManagementFlexibleServerClientOptionalParams } from '@azure/arm-postgresql-flexible';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { DbopsError } from '../errors.js';
import { rdsClient, s3Client } from './aws-clients.js';
import { AwsAuroraProvider } from './aws-aurora.js';
import { AwsRdsProvider } from './aws-rds.js';
import { AzureFlexibleProvider } from './azure-flexible.js';
import type { BackupStore } from './backup-store.js';
import type { Provider } from './provider.js';
import { SelfHostedProvider } from './self-hosted.js';
import { DirectoryStore } from './store-dir.js';
import { S3Store } from './store-s3.js';
import type { ProviderEngine, ProviderTarget } from './types.js';

export * from './provider.js';
export { ENGINE_CAPABILITIES, requireCapability } from './capabilities.js';
export { ProviderError, isProviderError, type ProviderErrorCode } from './errors.js';
export { snapshotId, sanitizeSnapshotName } from './snapshot-id.js';
export type { BackupsConfig, ProviderEngine, ProviderTarget } from './types.js';

export interface ProviderDeps {
  readonly rds?: RDSClient;
  readonly s3?: S3Client;
  readonly azureCredential?: TokenCredential;
  readonly azureClientOptions?: PostgreSQLManagementFlexibleServerClientOptionalParams;
  readonly azurePollIntervalMs?: number;
}

// SDK clients keep connection pools and credential caches: one per region/role/subscription, not one per call.
const rdsClients = new Map<string, RDSClient>();
const s3Clients = new Map<string, S3Client>();
const azureClients = new Map<string, PostgreSQLManagementFlexibleServerClient>();
let azureCredential: TokenCredential | undefined;

function cached<T>(map: Map<string, T>, key: string, make: () => T): T {
  let v = map.get(key);
  if (!v) map.set(key, (v = make()));
  return v;
}

const configError = (t: ProviderTarget, what: string) => new DbopsError('config', `Target ${t.name} (${t.engine}) needs ${what} in the targets file.`);

function storeFor(t: ProviderTarget, deps: ProviderDeps): BackupStore {
  const b = t.backups;
  if (!b) throw configError(t, 'backups.store (a directory or s3://bucket/prefix)');
  if (!b.store.startsWith('s3://')) return new DirectoryStore(b.store);
  const region = b.s3?.region ?? t.aws?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region && !deps.s3) throw configError(t, 'backups.s3.region (or aws.region, or AWS_REGION) for its S3 store');
  const client = deps.s3 ?? cached(s3Clients, `${region}|${t.aws?.roleArn ?? ''}|${b.s3?.forcePathStyle ?? false}`, () =>
    s3Client({ region: region!, ...(t.aws?.roleArn ? { roleArn: t.aws.roleArn } : {}), ...(b.s3?.forcePathStyle ? { forcePathStyle: true } : {}) }),
  );
  return new S3Store(b.store, client);
}

function rdsFor(t: ProviderTarget, deps: ProviderDeps): RDSClient {
  if (deps.rds) return deps.rds;
  const aws = t.aws;
  if (!aws) throw configError(t, 'aws.region');
  return cached(rdsClients, `${aws.region}|${aws.roleArn ?? ''}`, () => rdsClient({ region: aws.region, ...(aws.roleArn ? { roleArn: aws.roleArn } : {}) }));
}

export function providerFor(t: ProviderTarget, deps: ProviderDeps = {}): Provider {
  switch (t.engine) {
    case 'aws-rds':
      if (!t.aws?.instance) throw configError(t, 'aws.instance');
      return new AwsRdsProvider({ target: t.name, instance: t.aws.instance, client: rdsFor(t, deps) });
    case 'aws-aurora':
      if (!t.aws?.cluster) throw configError(t, 'aws.cluster');
      return new AwsAuroraProvider({ target: t.name, cluster: t.aws.cluster, client: rdsFor(t, deps) });
    case 'azure-flexible': {
      const az = t.azure;
      if (!az) throw configError(t, 'azure.{subscription,resourceGroup,server}');
      const client =
        deps.azureCredential || deps.azureClientOptions
          ? new PostgreSQLManagementFlexibleServerClient(deps.azureCredential ?? (azureCredential ??= new DefaultAzureCredential()), az.subscription, deps.azureClientOptions ?? {})
          : cached(azureClients, az.subscription, () => new PostgreSQLManagementFlexibleServerClient((azureCredential ??= new DefaultAzureCredential()), az.subscription));
      return new AzureFlexibleProvider({ target: t.name, resourceGroup: az.resourceGroup, server: az.server, client, ...(deps.azurePollIntervalMs ? { pollIntervalMs: deps.azurePollIntervalMs } : {}) });
    }
    case 'self-hosted':
      return new SelfHostedProvider({ target: t.name, url: t.url, backups: t.backups ?? { store: '' }, store: storeFor(t, deps) });
  }
}
