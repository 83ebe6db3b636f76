import {
  CreateDBSnapshotCommand,
  DBSnapshotAlreadyExistsFault,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  paginateDescribeDBSnapshots,
  type DBSnapshot,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { AwsRestoreMethods } from './aws-restore-methods.js';
import type { AwsRestoreOps } from './restore-aws.js';
import { pollAwsFailover, rdsTopology, startAwsFailover } from './aws-failover.js';
import type { AwsOps } from './aws-ops.js';
import { pollAwsRetention, startAwsRetention } from './aws-retention.js';
import type { FailoverRequest, OperationCheckpoint, OperationPoll, Topology } from './emergency.js';
import { progressOf, toSnapshot } from './aws-snapshot.js';
import { selectSnapshots } from './list.js';
import { ProviderError } from './errors.js';
import { ENGINE_CAPABILITIES } from './capabilities.js';
import type { Capability, ListOptions, PollResult, Provider, RestorableWindow, Snapshot, SnapshotCheckpoint, StartResult } from './provider.js';

export interface AwsRdsOptions {
  readonly target: string;
  readonly instance: string;
  readonly client: RDSClient;
}

const GIB = 1024 ** 3;

function fromDb(s: DBSnapshot): Snapshot {
  return toSnapshot({
    id: s.DBSnapshotIdentifier,
    type: s.SnapshotType,
    status: s.Status,
    createdAt: s.SnapshotCreateTime,
    percent: s.PercentProgress,
    // RDS reports no size of its own for a snapshot: AllocatedStorage is the source's disk (GiB).
    sizeBytes: s.AllocatedStorage !== undefined ? s.AllocatedStorage * GIB : undefined,
  });
}

/** Amazon RDS for PostgreSQL (a single DB instance). */
export class AwsRdsProvider extends AwsRestoreMethods implements Provider {
  readonly engine = 'aws-rds' as const;
  readonly capabilities: ReadonlySet<Capability> = ENGINE_CAPABILITIES['aws-rds'];
  readonly target: string;
  readonly #instance: string;
  readonly #rds: RDSClient;

  constructor(o: AwsRdsOptions) {
    super();
    this.target = o.target;
    this.#instance = o.instance;
    this.#rds = o.client;
  }

  get #what(): string {
    return `DB instance ${this.#instance}`;
  }

  async startSnapshot(id: string): Promise<StartResult> {
    const checkpoint: SnapshotCheckpoint = { engine: this.engine, snapshotId: id };
    try {
      await this.#rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: this.#instance, DBSnapshotIdentifier: id, Tags: [{ Key: 'dbops:target', Value: this.target }] }));
      return { checkpoint, alreadyStarted: false };
    } catch (err) {
      if (!(err instanceof DBSnapshotAlreadyExistsFault)) throw awsError(this.engine, this.#what, err);
    }
    // Our id is deterministic per run: it existing means an earlier attempt of this step started it,
    // unless it belongs to another instance (a clashing --name).
    const existing = await this.#describe(id);
    if (existing.DBInstanceIdentifier !== this.#instance) {
      throw new ProviderError(this.engine, 'already_exists', `A snapshot named ${id} already exists for another DB instance. Choose another --name.`);
    }
    return { checkpoint, alreadyStarted: true };
  }

  async pollSnapshot(checkpoint: SnapshotCheckpoint): Promise<PollResult> {
    const snapshot = fromDb(await this.#describe(checkpoint.snapshotId));
    if (snapshot.status === 'failed') {
      throw new ProviderError(this.engine, 'failed', `AWS reports snapshot ${snapshot.id} as ${snapshot.engineStatus}. Check the RDS events of ${this.#what}; nothing usable was created.`);
    }
    return { done: snapshot.status === 'available', snapshot, progress: progressOf(snapshot), checkpoint };
  }

  async listSnapshots(opts: ListOptions = {}): Promise<Snapshot[]> {
    const out: Snapshot[] = [];
    try {
      const pages = paginateDescribeDBSnapshots(
        { client: this.#rds },
        { DBInstanceIdentifier: this.#instance, ...(opts.type && opts.type !== 'all' ? { SnapshotType: opts.type } : {}) },
      );
      for await (const page of pages) for (const s of page.DBSnapshots ?? []) out.push(fromDb(s));
    } catch (err) {
      throw awsError(this.engine, this.#what, err);
    }
    // The API's `automated` filter leaves out AWS Backup's `awsbackup` snapshots: filter on our side too.
    return selectSnapshots(out, opts);
  }

  async restorableWindow(): Promise<RestorableWindow> {
    try {
      const { DBInstances } = await this.#rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: this.#instance }));
      const db = DBInstances?.[0];
      const retentionDays = db?.BackupRetentionPeriod;
      // A DB instance has LatestRestorableTime but no earliest: that lives on its automated backups.
      const { DBInstanceAutomatedBackups } = await this.#rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: this.#instance }));
      const active = DBInstanceAutomatedBackups?.find((b) => b.Status === 'active') ?? DBInstanceAutomatedBackups?.[0];
      const earliest = active?.RestoreWindow?.EarliestTime;
      const latest = db?.LatestRestorableTime ?? active?.RestoreWindow?.LatestTime;
      return {
        granularity: 'continuous',
        ...(retentionDays !== undefined ? { retentionDays } : {}),
        ...(retentionDays !== 0 && earliest ? { earliest } : {}),
        ...(retentionDays !== 0 && latest ? { latest } : {}),
      };
    } catch (err) {
      throw awsError(this.engine, this.#what, err);
    }
  }

  // Restores into a new instance and the cutover's renames (restore-aws.ts) on the same client.
  protected get restoreOps(): AwsRestoreOps {
    return { engine: this.engine, rds: this.#rds, id: this.#instance, target: this.target };
  }

  // Emergency operations (aws-failover.ts, aws-retention.ts) on the same client and instance.
  get #ops(): AwsOps {
    return { engine: this.engine, rds: this.#rds, id: this.#instance };
  }
  topology(): Promise<Topology> {
    return rdsTopology(this.#ops);
  }
  async startFailover(req: FailoverRequest): Promise<OperationCheckpoint> {
    return startAwsFailover(this.#ops, req, await this.topology());
  }
  startRetention(days: number): Promise<OperationCheckpoint> {
    return startAwsRetention(this.#ops, days);
  }
  pollOperation(cp: OperationCheckpoint): Promise<OperationPoll> {
    return cp.kind === 'failover' ? pollAwsFailover(this.#ops, cp) : pollAwsRetention(this.#ops, cp);
  }

  async #describe(id: string): Promise<DBSnapshot> {
    try {
      const { DBSnapshots } = await this.#rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
      const s = DBSnapshots?.[0];
      if (s) return s;
    } catch (err) {
      throw awsError(this.engine, `snapshot ${id} of ${this.#what}`, err);
    }
    throw new ProviderError(this.engine, 'not_found', `Snapshot ${id} of ${this.#what} was not found. It may have been deleted; check the RDS console.`);
  }
}
