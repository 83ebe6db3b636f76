import type { DumpManifest } from './manifest.js';

export interface RetentionPolicy {
  readonly keep?: number;
  readonly keepDays?: number;
}

/**
 * Which dumps to remove: those beyond the newest `keep`, and those older than `keepDays`. The newest
 * dump is never removed (a retention setting must not leave a target with no dump at all).
 * `manifests` are one target's; the result is newest first.
 */
export function dumpsToPrune(manifests: readonly DumpManifest[], policy: RetentionPolicy, now: Date): DumpManifest[] {
  const sorted = [...manifests].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  const cutoff = policy.keepDays !== undefined ? now.getTime() - policy.keepDays * 86_400_000 : undefined;
  return sorted.filter((m, i) => i > 0 && ((policy.keep !== undefined && i >= policy.keep) || (cutoff !== undefined && Date.parse(m.startedAt) < cutoff)));
}
