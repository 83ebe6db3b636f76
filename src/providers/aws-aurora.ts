import {
  CreateDBClusterSnapshotCommand,
  DBClusterSnapshotAlreadyExistsFault,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  paginateDescribeDBClusterSnapshots,
  type DBClusterSnapshot,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { AwsRestoreMethods } from './aws-restore-methods.js';
import type { AwsRestoreOps } from './restore-aws.js';
import { auroraTopology, pollAwsFailover, startAwsFailover } from './aws-failover.js';
import type { AwsOps } from './aws-ops.js';
import { pollAwsRetention, startAwsRetention } from './aws-retention.js';
import { auroraScaling, pollAuroraScale, startAuroraScale } from './aws-scale.js';
import type { FailoverRequest, OperationCheckpoint, OperationPoll, ScalingRange, Topology } from './emergency.js';
import { progressOf, toSnapshot } from './aws-snapshot.js';
import { selectSnapshots } from './list.js';
import { ProviderError } from './errors.js';
import { ENGINE_CAPABILITIES } from './capabilities.js';
import type { Capability, ListOptions, PollResult, Provider, RestorableWindow, Snapshot, SnapshotCheckpoint, StartResult } from './provider.js';

export interface AwsAuroraOptions {
  readonly target: string;
  readonly cluster: string;
  readonly client: RDSClient;
}

function fromCluster(s: DBClusterSnapshot): Snapshot {
  // Aurora's AllocatedStorage is always 1 (storage grows on its own): no size to report.
  return toSnapshot({ id: s.DBClusterSnapshotIdentifier, type: s.SnapshotType, status: s.Status, createdAt: s.SnapshotCreateTime, percent: s.PercentProgress });
}

/** Amazon Aurora PostgreSQL (snapshots and the restorable window belong to the cluster). */
export class AwsAuroraProvider extends AwsRestoreMethods implements Provider {
  readonly engine = 'aws-aurora' as const;
  readonly capabilities: ReadonlySet<Capability> = ENGINE_CAPABILITIES['aws-aurora'];
  readonly target: string;
  readonly #cluster: string;
  readonly #rds: RDSClient;

  constructor(o: AwsAuroraOptions) {
    super();
    this.target = o.target;
    this.#cluster = o.cluster;
    this.#rds = o.client;
  }

  get #what(): string {
    return `DB cluster ${this.#cluster}`;
  }

  async startSnapshot(id: string): Promise<StartResult> {
    const checkpoint: SnapshotCheckpoint = { engine: this.engine, snapshotId: id };
    try {
      await this.#rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: this.#cluster, DBClusterSnapshotIdentifier: id, Tags: [{ Key: 'dbops:target', Value: this.target }] }));
      return { checkpoint, alreadyStarted: false };
    } catch (err) {
      if (!(err instanceof DBClusterSnapshotAlreadyExistsFault)) throw awsError(this.engine, this.#what, err);
    }
    const existing = await this.#describe(id);
    if (existing.DBClusterIdentifier !== this.#cluster) {
      throw new ProviderError(this.engine, 'already_exists', `A cluster snapshot named ${id} already exists for another DB cluster. Choose another --name.`);
    }
    return { checkpoint, alreadyStarted: true };
  }

  async pollSnapshot(checkpoint: SnapshotCheckpoint): Promise<PollResult> {
    const snapshot = fromCluster(await this.#describe(checkpoint.snapshotId));
    if (snapshot.status === 'failed') {
      throw new ProviderError(this.engine, 'failed', `AWS reports cluster snapshot ${snapshot.id} as ${snapshot.engineStatus}. Check the RDS events of ${this.#what}; nothing usable was created.`);
    }
    return { done: snapshot.status === 'available', snapshot, progress: progressOf(snapshot), checkpoint };
  }

  async listSnapshots(opts: ListOptions = {}): Promise<Snapshot[]> {
    const out: Snapshot[] = [];
    try {
      const pages = paginateDescribeDBClusterSnapshots(
        { client: this.#rds },
        { DBClusterIdentifier: this.#cluster, ...(opts.type && opts.type !== 'all' ? { SnapshotType: opts.type } : {}) },
      );
      for await (const page of pages) for (const s of page.DBClusterSnapshots ?? []) out.push(fromCluster(s));
    } catch (err) {
      throw awsError(this.engine, this.#what, err);
    }
    // The API's `automated` filter leaves out AWS Backup's `awsbackup` snapshots: filter on our side too.
    return selectSnapshots(out, opts);
  }

  async restorableWindow(): Promise<RestorableWindow> {
    try {
      const { DBClusters } = await this.#rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: this.#cluster }));
      const c = DBClusters?.[0];
      if (!c) throw new ProviderError(this.engine, 'not_found', `AWS says ${this.#what} does not exist. Check aws.cluster and aws.region of the target.`);
      return {
        granularity: 'continuous',
        ...(c.BackupRetentionPeriod !== undefined ? { retentionDays: c.BackupRetentionPeriod } : {}),
        ...(c.EarliestRestorableTime ? { earliest: c.EarliestRestorableTime } : {}),
        ...(c.LatestRestorableTime ? { latest: c.LatestRestorableTime } : {}),
      };
    } catch (err) {
      throw awsError(this.engine, this.#what, err);
    }
  }

  // Restores into a new cluster and the cutover's renames (restore-aws.ts) on the same client.
  protected get restoreOps(): AwsRestoreOps {
    return { engine: this.engine, rds: this.#rds, id: this.#cluster, target: this.target };
  }

  // Emergency operations (aws-failover.ts, aws-scale.ts, aws-retention.ts) on the same client and cluster.
  get #ops(): AwsOps {
    return { engine: this.engine, rds: this.#rds, id: this.#cluster };
  }
  topology(): Promise<Topology> {
    return auroraTopology(this.#ops);
  }
  async startFailover(req: FailoverRequest): Promise<OperationCheckpoint> {
    return startAwsFailover(this.#ops, req, await this.topology());
  }
  scaling(): Promise<ScalingRange> {
    return auroraScaling(this.#ops);
  }
  startScale(range: { min: number; max: number }): Promise<OperationCheckpoint> {
    return startAuroraScale(this.#ops, range);
  }
  startRetention(days: number): Promise<OperationCheckpoint> {
    return startAwsRetention(this.#ops, days);
  }
  pollOperation(cp: OperationCheckpoint): Promise<OperationPoll> {
    if (cp.kind === 'failover') return pollAwsFailover(this.#ops, cp);
    return cp.kind === 'scale' ? pollAuroraScale(this.#ops, cp) : pollAwsRetention(this.#ops, cp);
  }

  async #describe(id: string): Promise<DBClusterSnapshot> {
    try {
      const { DBClusterSnapshots } = await this.#rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }));
      const s = DBClusterSnapshots?.[0];
      if (s) return s;
    } catch (err) {
      throw awsError(this.engine, `cluster snapshot ${id} of ${this.#what}`, err);
    }
    throw new ProviderError(this.engine, 'not_found', `Cluster snapshot ${id} of ${this.#what} was not found. It may have been deleted; check the RDS console.`);
  }
}
