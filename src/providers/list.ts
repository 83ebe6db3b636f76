import type { ListOptions, Snapshot } from './provider.js';

/** Newest first; in-flight ones without a timestamp first of all (they are the newest). */
export function newestFirst(a: Snapshot, b: Snapshot): number {
  return (b.createdAt?.getTime() ?? Number.MAX_SAFE_INTEGER) - (a.createdAt?.getTime() ?? Number.MAX_SAFE_INTEGER);
}

/** The same type filter, order and limit on every engine. */
export function selectSnapshots(all: readonly Snapshot[], opts: ListOptions = {}): Snapshot[] {
  const filtered = opts.type && opts.type !== 'all' ? all.filter((s) => s.type === opts.type) : [...all];
  return filtered.sort(newestFirst).slice(0, opts.limit ?? filtered.length);
}
