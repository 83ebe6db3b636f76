import type { Target } from '../config.js';
import { formatDuration } from '../duration.js';
import { DbopsError } from '../errors.js';
import type { HorizonHolder } from '../postgres/horizon.js';
import type { LockHolder } from '../postgres/lock-holders.js';
import type { TableStats, VacuumTupleCounts } from '../postgres/maintenance.js';
import { endAdvice } from './advice.js';
import { describeHolder } from './horizon-advice.js';
import type { Fact, RunResult } from './runbook.js';

type T = Pick<Target, 'name' | 'protectedApps' | 'protectedUsers'>;
const n = (x: number) => x.toLocaleString('en-US');

/**
 * The lock_timeout failure, naming who holds the table at that moment and what ends each of them:
 * "another session holds a conflicting lock" sent people to /db locks, which shows waits, not this.
 */
export function lockConflictError(target: T, table: string, lockTimeoutMs: number, holders: LockHolder[], cause: unknown): DbopsError {
  const head = `Could not lock ${table} within lock_timeout (${formatDuration(lockTimeoutMs / 1000)})`;
  if (!holders.length) {
    return new DbopsError('conflict', `${head}: a session held a conflicting lock but had let go by the time the bot looked. Nothing was changed; try again, or see \`/db locks ${target.name}\`.`, { cause });
  }
  const lines = holders.slice(0, 5).map((h) => {
    const a = endAdvice(target, h);
    const who = `pid ${h.pid} (${h.app || 'no application_name'}, user ${h.user ?? '?'}, ${h.state ?? 'state hidden'}${h.heldSeconds !== null ? ` for ${formatDuration(h.heldSeconds)}` : ''})`;
    return `${who} ${h.granted ? 'holds' : 'is queued ahead for'} ${h.mode} — ${a.command ? `\`${a.command}\`` : a.why}`;
  });
  const more = holders.length > 5 ? `; and ${holders.length - 5} more` : '';
  return new DbopsError('conflict', `${head}: ${lines.join('; ')}${more}. Nothing was changed; run the vacuum again once they are gone.`, { cause });
}

export interface VacuumOutcome {
  before: TableStats;
  after: TableStats;
  full: boolean;
  tuples: VacuumTupleCounts | null;
  /** what holds the xmin horizon back for this table, oldest first, already described with its command */
  holders: string[];
}

/** The horizon holders that matter for an ordinary table, as lines with the command that ends each. */
export function describeHolders(target: T, horizon: readonly HorizonHolder[]): string[] {
  return horizon.filter((h) => !h.catalogOnly).slice(0, 3).map((h) => describeHolder(target, h));
}

/** Dead tuples left after the run: VACUUM's own count when it gave one (FULL never updates n_dead_tup). */
const deadAfter = (o: VacuumOutcome) => o.tuples?.deadNotRemovable ?? o.after.nDeadTup;

/** Kept dead tuples worth a warning even when most were removed, if something still holds the horizon. */
const PINNED_WORTH_SAYING = 1000;

/**
 * Dead tuples VACUUM had to keep because a snapshot can still see them, when that matters: most of
 * them, or a thousand or more while a horizon holder is still there afterwards. A few kept on a busy
 * table is normal (transactions running during the vacuum); a long-lived snapshot pinning part of
 * the table is what on-call engineers need to hear about even when the rest was cleaned.
 */
export function pinnedDeadTuples(o: VacuumOutcome): number {
  if (o.tuples) {
    const kept = o.tuples.deadNotRemovable;
    if (kept <= 0) return 0;
    return kept >= o.tuples.removed || (kept >= PINNED_WORTH_SAYING && o.holders.length > 0) ? kept : 0;
  }
  // No VERBOSE counts (a run from before they were recorded): fall back to the estimates.
  if (o.full) return 0;
  return o.after.nDeadTup > 0 && o.after.nDeadTup >= o.before.nDeadTup * 0.5 ? o.after.nDeadTup : 0;
}

export function vacuumResult(table: string, command: string, durationMs: number, o: VacuumOutcome): RunResult {
  const verb = o.full ? 'VACUUM FULL' : 'VACUUM';
  const after = deadAfter(o);
  const facts: Fact[] = [
    { label: 'Command', value: command, code: true },
    { label: 'Duration', value: formatDuration(durationMs / 1000) },
    { label: 'Dead tuples', value: `≈${o.before.nDeadTup} (est.) → ${after}${o.tuples ? '' : ' (est.)'}` },
    ...(o.tuples ? [{ label: 'Removed / kept (VACUUM VERBOSE)', value: `${o.tuples.removed} / ${o.tuples.deadNotRemovable}` }] : []),
    { label: 'Live tuples (est.)', value: `≈${o.after.nLiveTup}` },
    { label: 'Pages', value: `${o.before.relpages} → ${o.after.relpages} (${Math.max(0, o.before.relpages - o.after.relpages)} removed)` },
    { label: 'Size', value: `${o.before.sizePretty} → ${o.after.sizePretty}` },
  ];
  const pinned = pinnedDeadTuples(o);
  if (!pinned) return { headline: `${verb} ${table}: dead tuples ${o.before.nDeadTup} → ${after} (before: est.)`, facts };
  const [holder, ...others] = o.holders;
  const warning = holder
    ? `${n(pinned)} dead tuples could not be removed: ${holder}${others.length ? `. Also holding it back: ${others.join('; ')}` : ''}. Vacuum again once it is gone.`
    : `${n(pinned)} dead tuples could not be removed: a snapshot still saw them while VACUUM ran, and nothing holds the xmin horizon back any more. Vacuum again now.`;
  const blame = holder ? [{ label: 'Held back by', value: holder }] : [];
  return { headline: `${verb} ${table}: ${pinned} dead tuples could not be removed (dead tuples ${o.before.nDeadTup} → ${after})`, facts: [...facts, ...blame], warning };
}
