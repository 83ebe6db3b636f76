/**
 * Deterministic snapshot ids: the same run and minute always give the same id, so a retried step
 * finds its own snapshot ("already exists" = "already started") instead of creating a second one.
 *
 * The result is valid everywhere we use it: RDS/Aurora identifiers (letters, digits, hyphens, first a
 * letter, no "--", no trailing hyphen, ≤ 255), Azure backup names and file/object names.
 */
function clean(part: string, max: number): string {
  return part
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

/** `dbops-<target>-<yyyymmddhhmm UTC>-<run>`. Pass the run's creation time, not "now", to stay stable across retries. */
export function snapshotId(target: string, runId: string | number, date: Date): string {
  return `dbops-${clean(target, 63) || 'target'}-${stamp(date)}-${clean(String(runId), 63) || 'run'}`;
}

/** A user-given `--name`: same rules, so it is valid on every engine; undefined when nothing usable is left. */
export function sanitizeSnapshotName(name: string): string | undefined {
  const s = clean(name, 200);
  if (!s) return undefined;
  return /^[a-z]/.test(s) ? s : `s-${s}`;
}

export const SNAPSHOT_ID_RE = /^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
