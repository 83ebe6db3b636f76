import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';

/**
 * AWS clients the ecosystem's way: the default credential chain (env, SSO, web identity, instance
 * role…) and `AWS_ENDPOINT_URL*` are honoured by the SDK itself; `roleArn` adds an assume-role hop.
 * Throttling and 5xx are retried by the SDK's standard retry strategy (`maxAttempts`).
 */
export interface AwsClientOptions {
  readonly region: string;
  readonly roleArn?: string;
  /** SDK attempts per call (first try included); default 5 — snapshots are not latency-critical. */
  readonly maxAttempts?: number;
}

export const DEFAULT_AWS_ATTEMPTS = 5;

function credentials(o: AwsClientOptions): ReturnType<typeof fromTemporaryCredentials> | undefined {
  if (!o.roleArn) return undefined; // undefined = the SDK's default chain
  return fromTemporaryCredentials({ params: { RoleArn: o.roleArn, RoleSessionName: 'dbops' }, clientConfig: { region: o.region } });
}

export function rdsClient(o: AwsClientOptions): RDSClient {
  const creds = credentials(o);
  return new RDSClient({ region: o.region, maxAttempts: o.maxAttempts ?? DEFAULT_AWS_ATTEMPTS, ...(creds ? { credentials: creds } : {}) });
}

export function s3Client(o: AwsClientOptions & { forcePathStyle?: boolean }): S3Client {
  const creds = credentials(o);
  return new S3Client({
    region: o.region,
    maxAttempts: o.maxAttempts ?? DEFAULT_AWS_ATTEMPTS,
    ...(o.forcePathStyle ? { forcePathStyle: true } : {}),
    ...(creds ? { credentials: creds } : {}),
  });
}
