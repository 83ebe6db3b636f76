/**
 * The provider layer: one engine-neutral interface over AWS RDS, Aurora, Azure Flexible Server and
 * self-hosted Postgres. Runbooks talk only to this; each engine file implements what it can and
 * lists it in `capabilities`, so help and `/db targets` can derive the capability matrix and a verb
 * the engine cannot do is refused before a run starts.
 */
import type { FailoverRequest, OperationCheckpoint, OperationPoll, ScalingRange, Topology } from './emergency.js';
import type { ProviderEngine } from './types.js';

/** What an engine can do. Later issues add their verbs here and the optional method beside it. */
export type Capability =
  | 'snapshot' // startSnapshot + pollSnapshot
  | 'list' // listSnapshots
  | 'window' // restorableWindow (retention and, where the engine has one, earliest/latest restorable time)
  | 'prune' // prune: the bot enforces retention itself (self-hosted dumps)
  | 'verify' // self-hosted: verify (a scratch database); cloud: restore + deleteRunCopy('scratch') (a scratch instance, compared with the source)
  | 'restore' // self-hosted: checkRestore + restoreSnapshot (into a new database); cloud: checkInstanceRestore + startInstanceRestore + pollInstanceOp (into a new instance)
  | 'pitr' // cloud: the same methods with a point in time as the source (restore-aws.ts, restore-azure.ts)
  | 'rename' // cloud: startRename + pollInstanceOp (the cutover's identifier swap) and the lookups it needs
  | 'failover' // topology + startFailover + pollOperation (emergency.ts)
  | 'scale' // Aurora Serverless v2: scaling + startScale + pollOperation
  | 'retention'; // startRetention + pollOperation (the current value is restorableWindow's retentionDays)

export const ALL_CAPABILITIES: readonly Capability[] = ['snapshot', 'list', 'window', 'prune', 'verify', 'restore', 'pitr', 'rename', 'failover', 'scale', 'retention'];

export type SnapshotType = 'manual' | 'automated';
/** Normalised; `engineStatus` keeps the engine's own word for the user ("backing-up", "copying"…). */
export type SnapshotStatus = 'creating' | 'available' | 'failed' | 'deleting' | 'other';

export interface Snapshot {
  readonly id: string;
  readonly type: SnapshotType;
  readonly status: SnapshotStatus;
  readonly engineStatus?: string;
  readonly sizeBytes?: number;
  /** Absent only while a cloud engine has not stamped an in-flight snapshot yet. */
  readonly createdAt?: Date;
  readonly progressPercent?: number;
}

export interface RestorableWindow {
  /** Earliest point-in-time restore target (cloud) or oldest kept dump (self-hosted). */
  readonly earliest?: Date;
  readonly latest?: Date;
  readonly retentionDays?: number;
  /** Self-hosted: how many dumps are kept. */
  readonly keep?: number;
  /** `continuous`: any time in [earliest, latest]; `snapshots`: only the listed dumps. */
  readonly granularity: 'continuous' | 'snapshots';
}

/**
 * Everything a resumed run needs to re-attach to a long operation, as plain JSON: the runbook
 * stores it in the run's step data and hands it back to `pollSnapshot` after a restart.
 */
export interface SnapshotCheckpoint {
  readonly engine: ProviderEngine;
  readonly snapshotId: string;
  /** Azure: the LRO poller's serialised state (`poller.toString()`). */
  readonly poller?: string;
}

export interface Progress {
  readonly percent?: number;
  /** Short, user-facing ("dumped 12 of 40 tables", "creating, 35 %"). */
  readonly message: string;
}

export interface StartResult {
  readonly checkpoint: SnapshotCheckpoint;
  /** True when our own deterministic id already existed: a retried step re-attached, nothing new was created. */
  readonly alreadyStarted: boolean;
}

export interface PollResult {
  readonly done: boolean;
  /** Present when done (and usually while in flight). */
  readonly snapshot?: Snapshot;
  readonly progress?: Progress;
  /** Store this instead of the previous one (an Azure poller's state moves on). */
  readonly checkpoint: SnapshotCheckpoint;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Called while a long local operation runs (self-hosted dump, verify). */
  readonly onProgress?: (p: Progress) => void;
}

export interface ListOptions {
  readonly type?: SnapshotType | 'all';
  readonly limit?: number;
}

export interface VerifyTableResult {
  readonly table: string;
  readonly expectedRows: number;
  /** Undefined when the table is missing after the restore. */
  readonly restoredRows?: number;
}

export interface VerifyReport {
  readonly snapshotId: string;
  readonly ok: boolean;
  /** One plain line per problem found (artifact damaged, restore failed, row count differs…). */
  readonly problems: readonly string[];
  readonly tables: readonly VerifyTableResult[];
  readonly durationMs: number;
  /** The scratch database or instance restored into (already removed when the report is returned). */
  readonly scratch?: string;
}

export interface PruneResult {
  readonly kept: readonly string[];
  readonly removed: readonly string[];
}

/** What a restore creates: always a NEW database/instance, never the source. */
export interface RestoreRequest {
  readonly snapshotId: string;
  /** The new database (self-hosted) or instance name. */
  readonly newName: string;
  /** The run that owns what is created; self-hosted marks the new database with it, so a retry may drop only its own. */
  readonly owner: string;
}

export interface RestoreCheck {
  /** One plain line per reason the restore cannot start; empty: it may. */
  readonly problems: readonly string[];
  readonly snapshot?: Snapshot;
  /** Self-hosted: the manifest's per-table row counts, the restore's expected result. */
  readonly expected?: readonly { readonly table: string; readonly rows: number }[];
}

export interface RestoreResult {
  readonly newName: string;
  /** An earlier attempt of the same owner had already finished it: nothing was restored again. */
  readonly alreadyRestored: boolean;
  readonly durationMs: number;
}

/** Where a cloud restore's copy comes from: a snapshot (Azure: an on-demand backup, restored at its time) or a point in time. */
export type RestoreSource = { readonly snapshotId: string; readonly toTime?: undefined } | { readonly toTime: string; readonly snapshotId?: undefined };

/** What the targets file may set instead of copying it from the source (AWS; `instanceClass` also Aurora's instance). */
export interface RestoreOverrides {
  readonly subnetGroup?: string;
  readonly securityGroups?: readonly string[];
  readonly parameterGroup?: string;
  readonly instanceClass?: string;
}

export interface InstanceRestoreRequest {
  readonly source: RestoreSource;
  /** The NEW instance (aws-rds), cluster (aws-aurora) or server (azure-flexible). */
  readonly newName: string;
  /** The run that owns it: tagged on the new resource, so a retry recognises its own and a cutover finds it. */
  readonly owner: string;
  readonly overrides?: RestoreOverrides;
}

export interface InstanceRestoreCheck {
  readonly problems: readonly string[];
  /** The data's point in time: the snapshot's creation time or the requested time. */
  readonly restorePoint?: Date;
  readonly window?: RestorableWindow;
  readonly snapshot?: Snapshot;
  /** The new name exists already and is this owner's (a resumed run). */
  readonly alreadyOurs?: boolean;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Plain JSON, stored in the step's checkpoint between looks. */
export interface InstanceOpCheckpoint {
  readonly engine: ProviderEngine;
  readonly kind: 'restore' | 'rename';
  /** The identifier to look at: after a rename, the NEW one (the old one is gone, or about to be). */
  readonly name: string;
  /** Rename: the identifier before. */
  readonly from?: string;
  /** Aurora restore: the cluster first, then the instance created into it. */
  readonly phase?: 'cluster' | 'instance';
  readonly instance?: string;
  /** Aurora: the class of that instance (the source writer's, unless the targets file overrides it). */
  readonly instanceClass?: string;
  /** Azure: the LRO poller's serialised state. */
  readonly poller?: string;
  /** An earlier attempt had started it (our own resource was found). */
  readonly alreadyStarted?: boolean;
}

export interface InstanceOpPoll {
  readonly done: boolean;
  readonly progress: Progress;
  readonly checkpoint: InstanceOpCheckpoint;
  /** When done: where the restored resource answers. */
  readonly endpoint?: Endpoint;
}

/** dbops' marks on the two sides of a cutover (AWS tags), readable by the rollback. */
export interface SwapTag {
  readonly run: string;
  readonly role: 'old' | 'live';
  /** The identifier before the swap. */
  readonly was: string;
}

/** `/db backup verify` names its scratch copies `dbops-verify-<run>`; only such names may be deleted. */
export const SCRATCH_PREFIX = 'dbops-verify-';

/** What a run's copy is: a backup-verify scratch copy, or a `/db restore`'s new instance. */
export type RunCopyKind = 'scratch' | 'restored';

/** One look at deleting a run's copy. `checkpoint`: engine state to hand to the next look (Azure: the LRO poller). */
export interface ScratchDeleteLook {
  readonly gone: boolean;
  readonly progress: string;
  readonly checkpoint?: string;
}

export interface ManagedInstance {
  readonly name: string;
  /** The engine's word ("available", "renaming", "Ready"…). */
  readonly status: string;
  readonly restoreRun?: string;
  readonly swap?: SwapTag;
  readonly endpoint?: Endpoint;
}

export interface Provider {
  readonly engine: ProviderEngine;
  /** The target's name (for messages). */
  readonly target: string;
  readonly capabilities: ReadonlySet<Capability>;

  /**
   * Starts a snapshot named `id` (see `snapshotId`). Idempotent for our own ids: if it exists it is
   * returned with `alreadyStarted`. Cloud engines return at once; self-hosted dumps in this call.
   */
  startSnapshot(id: string, opts?: CallOptions): Promise<StartResult>;
  /** One look at the operation; never waits for it. Throws ProviderError('failed') when the engine reports failure. */
  pollSnapshot(checkpoint: SnapshotCheckpoint, opts?: CallOptions): Promise<PollResult>;
  /** Newest first. */
  listSnapshots(opts?: ListOptions): Promise<Snapshot[]>;
  restorableWindow(opts?: CallOptions): Promise<RestorableWindow>;

  prune?(opts?: CallOptions): Promise<PruneResult>;
  verify?(snapshotId?: string, opts?: CallOptions): Promise<VerifyReport>;
  /**
   * Pre-checks, creating nothing: the snapshot exists and is intact (self-hosted: size and sha256 vs
   * the manifest), the new name is free (or already ours, for a resumed run), the credentials can
   * create it. `deep: false` skips reading the artifact (request time: cheap checks only).
   */
  checkRestore?(req: RestoreRequest, opts?: CallOptions & { deep?: boolean }): Promise<RestoreCheck>;
  /**
   * Restores into a NEW database/instance. Idempotent for the same owner: a half-done restore of
   * ours is dropped and done again; a finished one is returned with `alreadyRestored`.
   */
  restoreSnapshot?(req: RestoreRequest, opts?: CallOptions): Promise<RestoreResult>;

  // Cloud restores (restore-aws.ts, restore-azure.ts): into a NEW instance/cluster/server, started
  // once and looked at with pollInstanceOp like snapshots; the run is parked between looks.
  /** Pre-checks, creating nothing: source and credentials, the snapshot or point in time, the new name free (or ours). */
  checkInstanceRestore?(req: InstanceRestoreRequest, opts?: CallOptions): Promise<InstanceRestoreCheck>;
  /** Idempotent for the same owner: finding its own new instance means an earlier attempt started it. */
  startInstanceRestore?(req: InstanceRestoreRequest, opts?: CallOptions): Promise<InstanceOpCheckpoint>;
  /** One look at a restore or rename; never waits. Throws ProviderError('failed') when the engine reports failure. */
  pollInstanceOp?(cp: InstanceOpCheckpoint, opts?: CallOptions): Promise<InstanceOpPoll>;
  /** The instance/cluster/server named `name` (undefined: it does not exist), with dbops' marks. */
  describeManaged?(name: string, opts?: CallOptions): Promise<ManagedInstance | undefined>;
  /** Instances carrying a mark: the restore of a run, or the two sides of a cutover. */
  findManaged?(by: { restoreRun?: string; swapRun?: string }, opts?: CallOptions): Promise<ManagedInstance[]>;
  /**
   * One look at deleting a copy a run made, tagged with `owner` (the run): a backup-verify scratch copy
   * (`dbops-verify-…`), or the NEW instance/cluster/server of a failed `/db restore` (its abort: only
   * one tagged with this target, never the target's own, never one a cutover marked). Starts the
   * delete, never waits; call again until `gone`. Refuses (ProviderError) anything else.
   */
  deleteRunCopy?(kind: RunCopyKind, name: string, owner: string, checkpoint?: string, opts?: CallOptions): Promise<ScratchDeleteLook>;
  /** Marks `from` with `mark`, then renames it to `to` (which must not exist). Wait on `to` afterwards. */
  startRename?(from: string, to: string, mark: SwapTag, opts?: CallOptions): Promise<InstanceOpCheckpoint>;

  // Emergency operations (types in emergency.ts): started once, then looked at with pollOperation.
  topology?(opts?: CallOptions): Promise<Topology>;
  startFailover?(req: FailoverRequest, opts?: CallOptions): Promise<OperationCheckpoint>;
  scaling?(opts?: CallOptions): Promise<ScalingRange>;
  startScale?(range: { min: number; max: number }, opts?: CallOptions): Promise<OperationCheckpoint>;
  startRetention?(days: number, opts?: CallOptions): Promise<OperationCheckpoint>;
  pollOperation?(checkpoint: OperationCheckpoint, opts?: CallOptions): Promise<OperationPoll>;
}
