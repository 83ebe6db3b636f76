/**
 * The target fields the provider layer reads. A plain interface: config.ts validates the file (zod)
 * and hands these values over; nothing here parses YAML or environment.
 */
export type ProviderEngine = 'self-hosted' | 'aws-rds' | 'aws-aurora' | 'azure-flexible';

export interface BackupsConfig {
  /** A directory path, or `s3://bucket/prefix`, shared by every worker. */
  readonly store: string;
  /** Keep at most this many dumps of the target (the newest). */
  readonly keep?: number;
  /** Remove dumps older than this many days. */
  readonly keepDays?: number;
  /** When set, directory format with `pg_dump -j jobs` (and `pg_restore -j` on verify). */
  readonly jobs?: number;
  /** Server to restore into for verify (a postgres:// URL whose role may CREATE DATABASE); default: the target's own server. */
  readonly scratchUrl?: string;
  /** S3 store only: region (default aws.region, then the SDK's chain) and path-style addressing (S3-compatible stores). */
  readonly s3?: { readonly region?: string; readonly forcePathStyle?: boolean };
}

export interface ProviderTarget {
  readonly name: string;
  readonly engine: ProviderEngine;
  /** The target's connection string (self-hosted dumps); a secret. */
  readonly url: string;
  readonly aws?: { readonly region: string; readonly instance?: string; readonly cluster?: string; readonly roleArn?: string };
  readonly azure?: { readonly subscription: string; readonly resourceGroup: string; readonly server: string };
  readonly backups?: BackupsConfig;
}
