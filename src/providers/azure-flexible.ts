import type { BackupAutomaticAndOnDemand, PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import { azureError } from './azure-errors.js';
import { checkAzureRestore, deleteAzureRestored, deleteAzureScratch, describeAzureManaged, findAzureManaged, pollAzureRestore, startAzureRestore, type AzureRestoreOps } from './restore-azure.js';
import { azureTopology, pollAzureOperation, startAzureFailover, startAzureRetention, type AzureOps } from './azure-emergency.js';
import type { FailoverRequest, OperationCheckpoint, OperationPoll, Topology } from './emergency.js';
import { selectSnapshots } from './list.js';
import { ENGINE_CAPABILITIES } from './capabilities.js';
import type { Capability, InstanceOpCheckpoint, InstanceOpPoll, InstanceRestoreCheck, InstanceRestoreRequest, ListOptions, ManagedInstance, PollResult, Provider, RestorableWindow, RunCopyKind, ScratchDeleteLook, Snapshot, SnapshotCheckpoint, StartResult } from './provider.js';

export interface AzureFlexibleOptions {
  readonly target: string;
  readonly resourceGroup: string;
  readonly server: string;
  readonly client: PostgreSQLManagementFlexibleServerClient;
  /** Poll interval the poller would use if asked to wait; we poll one step at a time, so it only matters inside beginCreate. */
  readonly pollIntervalMs?: number;
}

function fromBackup(b: BackupAutomaticAndOnDemand): Snapshot {
  return {
    id: b.name ?? '',
    // "Customer On-Demand" is ours (or another user's); "Full" is the service's own schedule.
    type: b.backupType === 'Customer On-Demand' ? 'manual' : 'automated',
    // The API lists finished backups only.
    status: 'available',
    ...(b.completedTime ? { createdAt: b.completedTime } : {}),
  };
}

/** Azure Database for PostgreSQL Flexible Server: on-demand backups as snapshots, LRO pollers as checkpoints. */
export class AzureFlexibleProvider implements Provider {
  readonly engine = 'azure-flexible' as const;
  readonly capabilities: ReadonlySet<Capability> = ENGINE_CAPABILITIES['azure-flexible'];
  readonly target: string;
  readonly #rg: string;
  readonly #server: string;
  readonly #client: PostgreSQLManagementFlexibleServerClient;
  readonly #interval: number;

  constructor(o: AzureFlexibleOptions) {
    this.target = o.target;
    this.#rg = o.resourceGroup;
    this.#server = o.server;
    this.#client = o.client;
    this.#interval = o.pollIntervalMs ?? 10_000;
  }

  get #what(): string {
    return `flexible server ${this.#server}`;
  }

  async startSnapshot(id: string): Promise<StartResult> {
    // Our id is deterministic per run: if the backup is there, an earlier attempt made it.
    if (await this.#find(id)) return { checkpoint: { engine: this.engine, snapshotId: id }, alreadyStarted: true };
    try {
      const poller = await this.#client.backupsAutomaticAndOnDemand.beginCreate(this.#rg, this.#server, id, { updateIntervalInMs: this.#interval });
      // The poller's serialised state is the checkpoint: a resumed run re-attaches with resumeFrom.
      return { checkpoint: { engine: this.engine, snapshotId: id, poller: poller.toString() }, alreadyStarted: false };
    } catch (err) {
      throw azureError(this.#what, err);
    }
  }

  async pollSnapshot(checkpoint: SnapshotCheckpoint): Promise<PollResult> {
    const id = checkpoint.snapshotId;
    if (!checkpoint.poller) {
      const b = await this.#find(id);
      if (!b) throw azureError(`backup ${id} of ${this.#what}`, { statusCode: 404, message: 'backup not found' });
      return { done: true, snapshot: fromBackup(b), progress: { message: 'available' }, checkpoint };
    }
    try {
      // resumeFrom re-attaches without resending the PUT; beginCreate then polls the operation once.
      const poller = await this.#client.backupsAutomaticAndOnDemand.beginCreate(this.#rg, this.#server, id, { resumeFrom: checkpoint.poller, updateIntervalInMs: this.#interval });
      const next: SnapshotCheckpoint = { ...checkpoint, poller: poller.toString() };
      if (!poller.isDone()) {
        return { done: false, snapshot: { id, type: 'manual', status: 'creating', engineStatus: 'InProgress' }, progress: { message: 'backing up' }, checkpoint: next };
      }
      const result = poller.getResult();
      const snapshot = result ? fromBackup({ ...result, name: result.name ?? id }) : { id, type: 'manual' as const, status: 'available' as const };
      return { done: true, snapshot, progress: { message: 'available' }, checkpoint: next };
    } catch (err) {
      throw azureError(this.#what, err);
    }
  }

  async listSnapshots(opts: ListOptions = {}): Promise<Snapshot[]> {
    const out: Snapshot[] = [];
    try {
      for await (const b of this.#client.backupsAutomaticAndOnDemand.listByServer(this.#rg, this.#server)) out.push(fromBackup(b));
    } catch (err) {
      throw azureError(this.#what, err);
    }
    return selectSnapshots(out, opts);
  }

  async restorableWindow(): Promise<RestorableWindow> {
    try {
      const s = await this.#client.servers.get(this.#rg, this.#server);
      const earliest = s.backup?.earliestRestoreDate;
      const retentionDays = s.backup?.backupRetentionDays;
      // Azure publishes no latest restorable time: point-in-time restore reaches up to a few minutes ago.
      return { granularity: 'continuous', ...(earliest ? { earliest } : {}), ...(retentionDays !== undefined ? { retentionDays } : {}) };
    } catch (err) {
      throw azureError(this.#what, err);
    }
  }

  // Point-in-time restores into a new server (restore-azure.ts) on the same client.
  get #restoreOps(): AzureRestoreOps {
    return { ...this.#ops, target: this.target };
  }
  checkInstanceRestore(req: InstanceRestoreRequest): Promise<InstanceRestoreCheck> {
    return checkAzureRestore(this.#restoreOps, req);
  }
  startInstanceRestore(req: InstanceRestoreRequest): Promise<InstanceOpCheckpoint> {
    return startAzureRestore(this.#restoreOps, req);
  }
  pollInstanceOp(cp: InstanceOpCheckpoint): Promise<InstanceOpPoll> {
    return pollAzureRestore(this.#restoreOps, cp);
  }
  describeManaged(name: string): Promise<ManagedInstance | undefined> {
    return describeAzureManaged(this.#restoreOps, name);
  }
  findManaged(by: { restoreRun?: string }): Promise<ManagedInstance[]> {
    return findAzureManaged(this.#restoreOps, by);
  }
  deleteRunCopy(kind: RunCopyKind, name: string, owner: string, checkpoint?: string): Promise<ScratchDeleteLook> {
    return (kind === 'scratch' ? deleteAzureScratch : deleteAzureRestored)(this.#restoreOps, name, owner, checkpoint);
  }

  // Emergency operations (azure-emergency.ts) on the same client and server.
  get #ops(): AzureOps {
    return { client: this.#client, resourceGroup: this.#rg, server: this.#server, pollIntervalMs: this.#interval };
  }
  topology(): Promise<Topology> {
    return azureTopology(this.#ops);
  }
  async startFailover(req: FailoverRequest): Promise<OperationCheckpoint> {
    return startAzureFailover(this.#ops, req, await this.topology());
  }
  startRetention(days: number): Promise<OperationCheckpoint> {
    return startAzureRetention(this.#ops, days);
  }
  pollOperation(cp: OperationCheckpoint): Promise<OperationPoll> {
    return pollAzureOperation(this.#ops, cp);
  }

  async #find(id: string): Promise<BackupAutomaticAndOnDemand | undefined> {
    try {
      return await this.#client.backupsAutomaticAndOnDemand.get(this.#rg, this.#server, id);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw azureError(this.#what, err);
    }
  }
}
