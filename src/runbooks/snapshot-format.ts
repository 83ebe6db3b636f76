/**
 * Words and numbers for snapshots, shared by `/db snapshot` and `/db snapshots`: sizes, times, and
 * how to restore on each engine (dbops has no restore verb yet, so we name the engine's own tool).
 */
import type { Target } from '../config.js';
import { ENGINE_CAPABILITIES, type Snapshot } from '../providers/index.js';

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** UTC, minute precision: the same on every reader's screen and in ids. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '–' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Size is what each engine reports: RDS/Aurora the source's allocated storage, self-hosted the artifact. */
export function sizeLabel(engine: Target['engine']): string {
  return engine === 'aws-rds' || engine === 'aws-aurora' ? 'Size (allocated storage)' : 'Size';
}

/** JSON-safe copy of a snapshot for step outputs (Dates become ISO strings). */
export interface SnapshotJson {
  id: string;
  type: Snapshot['type'];
  status: Snapshot['status'];
  engineStatus?: string;
  sizeBytes?: number;
  createdAt?: string;
  progressPercent?: number;
}

export function snapshotJson(s: Snapshot): SnapshotJson {
  const created = s.createdAt ? new Date(s.createdAt) : undefined;
  return {
    id: s.id,
    type: s.type,
    status: s.status,
    ...(s.engineStatus ? { engineStatus: s.engineStatus } : {}),
    ...(s.sizeBytes !== undefined ? { sizeBytes: s.sizeBytes } : {}),
    ...(created && !Number.isNaN(created.getTime()) ? { createdAt: created.toISOString() } : {}),
    ...(s.progressPercent !== undefined ? { progressPercent: s.progressPercent } : {}),
  };
}

/**
 * The command that restores from snapshot `id` into a new resource (never over the source). No host,
 * account or secret: only names from the targets file, which `/db targets` already shows. Where the
 * engine has dbops' own restore verb, that; elsewhere the engine's own tool.
 */
export function restoreHint(target: Target, id: string): string {
  if (ENGINE_CAPABILITIES[target.engine].has('restore')) return `/db restore ${target.name} --snapshot ${id}`;
  switch (target.engine) {
    case 'aws-rds':
      return `aws rds restore-db-instance-from-db-snapshot --db-instance-identifier ${target.aws?.instance ?? target.name}-restored --db-snapshot-identifier ${id}`;
    case 'aws-aurora':
      return `aws rds restore-db-cluster-from-snapshot --db-cluster-identifier ${target.aws?.cluster ?? target.name}-restored --snapshot-identifier ${id} --engine aurora-postgresql (then add an instance to the new cluster)`;
    case 'azure-flexible':
      // On-demand backups are recovery points of the server's point-in-time restore.
      return `az postgres flexible-server restore --resource-group ${target.azure?.resourceGroup ?? '<rg>'} --source-server ${target.azure?.server ?? target.name} --name ${target.azure?.server ?? target.name}-restored --restore-time <the backup's completed time>`;
    case 'self-hosted': {
      const dir = target.backups?.jobs !== undefined;
      return `pg_restore ${dir ? `-j ${target.backups!.jobs} ` : ''}--dbname <new empty database> ${id}.${dir ? 'dir' : 'dump'} (from the target's backups.store)`;
    }
  }
}

/** Said next to the hint, so nobody looks for a verb that is not there on this engine. */
export function restoreNote(engine: Target['engine']): string {
  return ENGINE_CAPABILITIES[engine].has('restore')
    ? `dbops restores into a new ${engine === 'self-hosted' ? 'database next to the target' : engine === 'azure-flexible' ? 'server' : engine === 'aws-aurora' ? 'cluster' : 'instance'}; the target is not touched.`
    : `dbops has no \`/db restore\` on ${engine} yet: restore with the engine’s own tool, into a new instance or database.`;
}
