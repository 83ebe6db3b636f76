import type { Progress, Snapshot, SnapshotStatus, SnapshotType } from './provider.js';

/** RDS/Aurora snapshot statuses → ours; anything unknown keeps its own word in engineStatus. */
export function awsStatus(s: string | undefined): SnapshotStatus {
  switch (s) {
    case 'available':
      return 'available';
    case 'creating':
    case 'copying':
    case 'pending':
      return 'creating';
    case 'failed':
    case 'incompatible-restore':
    case 'error':
      return 'failed';
    case 'deleting':
      return 'deleting';
    default:
      return 'other';
  }
}

/** `awsbackup` snapshots are made by AWS Backup on a schedule: automated from the user's view. */
export function awsType(t: string | undefined): SnapshotType {
  return t === 'manual' ? 'manual' : 'automated';
}

export interface AwsSnapshotFields {
  id: string | undefined;
  type: string | undefined;
  status: string | undefined;
  createdAt: Date | undefined;
  percent: number | undefined;
  sizeBytes?: number | undefined;
}

export function toSnapshot(f: AwsSnapshotFields): Snapshot {
  return {
    id: f.id ?? '',
    type: awsType(f.type),
    status: awsStatus(f.status),
    ...(f.status ? { engineStatus: f.status } : {}),
    ...(f.sizeBytes !== undefined ? { sizeBytes: f.sizeBytes } : {}),
    ...(f.createdAt ? { createdAt: f.createdAt } : {}),
    ...(f.percent !== undefined ? { progressPercent: f.percent } : {}),
  };
}

export function progressOf(s: Snapshot): Progress {
  const pct = s.progressPercent;
  return { ...(pct !== undefined ? { percent: pct } : {}), message: `${s.engineStatus ?? s.status}${pct !== undefined ? `, ${pct} %` : ''}` };
}
