/**
 * Types of the emergency operations (failover, Aurora Serverless v2 scaling, backup retention): the
 * optional Provider methods of issue #13. Like snapshots, a long engine operation is started once
 * and then looked at one step at a time, with a plain-JSON checkpoint a resumed run re-attaches by.
 */
import type { Progress } from './provider.js';
import type { ProviderEngine } from './types.js';

/** One member of what serves the target: an Aurora instance, the RDS primary/standby, the Azure primary/standby. */
export interface TopologyMember {
  readonly id: string;
  readonly role: 'writer' | 'reader' | 'standby';
  readonly zone?: string;
  readonly status?: string;
}

/** Who writes now and where, as the engine reports it. */
export interface Topology {
  /** The engine's own word for the cluster / instance / server state ("available", "failing-over", "Ready"). */
  readonly status: string;
  /** The state in which the engine accepts a failover and serves normally. */
  readonly available: boolean;
  readonly writer?: string;
  readonly zone?: string;
  readonly members: readonly TopologyMember[];
  /** Set when the topology cannot fail over at all (single instance, no HA): the reason, in the user's words. */
  readonly cannotFailover?: string;
}

export interface FailoverRequest {
  /** Aurora: the reader to promote (TargetDBInstanceIdentifier). */
  readonly to?: string;
  /** Azure: ForcedFailover instead of PlannedFailover. */
  readonly forced?: boolean;
}

export type OperationKind = 'failover' | 'scale' | 'retention';

/** Everything the next look at a started operation needs; stored in the run's checkpoint. */
export interface OperationCheckpoint {
  readonly engine: ProviderEngine;
  readonly kind: OperationKind;
  /** Azure: the LRO poller's serialised state (`poller.toString()`), re-attached with `resumeFrom`. */
  readonly poller?: string;
  /** Failover: the writer and zone before it, to tell when it happened. */
  readonly before?: { readonly writer?: string; readonly zone?: string };
  /** Scale / retention: the values the engine must show when it is done. */
  readonly want?: { readonly min?: number; readonly max?: number; readonly days?: number };
}

export interface OperationPoll {
  readonly done: boolean;
  readonly progress: Progress;
  /** Store this instead of the previous one (an Azure poller's state moves on). */
  readonly checkpoint: OperationCheckpoint;
  /** Failover: the topology at this look (after, when done). */
  readonly topology?: Topology;
}

/** Aurora Serverless v2 capacity range of the cluster, in ACUs. */
export interface ScalingRange {
  readonly min?: number;
  readonly max?: number;
  /** Instances of class db.serverless (the ones the range applies to) / all instances. */
  readonly serverlessInstances: number;
  readonly instances: number;
  readonly status: string;
}

/** Backup retention each engine accepts, in days (RDS: 0 turns automated backups off). */
export const RETENTION_RANGE: Readonly<Record<Exclude<ProviderEngine, 'self-hosted'>, { readonly min: number; readonly max: number }>> = {
  'aws-rds': { min: 0, max: 35 },
  'aws-aurora': { min: 1, max: 35 },
  'azure-flexible': { min: 7, max: 35 },
};
