/**
 * VACUUM VERBOSE's own count of what it removed and what it had to keep. pg_stat's n_dead_tup is an
 * estimate, and VACUUM FULL does not update it at all, so "dead tuples a → b" from the statistics
 * cannot tell a pinned vacuum from a successful one; these numbers can.
 */
export interface VacuumTupleCounts {
  /** dead row versions removed */
  removed: number;
  /** dead row versions still visible to some snapshot: "cannot be removed yet" */
  deadNotRemovable: number;
}

/**
 * Sums the counts over the INFO lines of the table (and its partitions), leaving TOAST tables out:
 * they are reported separately and would count a row's out-of-line values as extra tuples.
 * Formats: PG15+ lazy vacuum "tuples: R removed, M remain, K are dead but not yet removable";
 * VACUUM FULL and PG ≤14 "found R removable, M nonremovable row versions" + "K dead row versions
 * cannot be removed yet". Null when no line matched (another format: the caller falls back).
 */
export function parseVacuumVerbose(lines: readonly string[]): VacuumTupleCounts | null {
  let removed = 0;
  let kept = 0;
  let matched = false;
  for (const line of lines) {
    if (/pg_toast/.test(line)) continue;
    const pg15 = /tuples: (\d+) removed, \d+ remain, (\d+) are dead but not yet removable/.exec(line);
    if (pg15) {
      matched = true;
      removed += Number(pg15[1]);
      kept += Number(pg15[2]);
      continue;
    }
    const found = /found (\d+) removable, \d+ nonremovable row versions/.exec(line);
    const notYet = /(\d+) dead row versions cannot be removed yet/.exec(line);
    if (found) {
      matched = true;
      removed += Number(found[1]);
    }
    if (notYet) {
      matched = true;
      kept += Number(notYet[1]);
    }
  }
  return matched ? { removed, deadNotRemovable: kept } : null;
}
