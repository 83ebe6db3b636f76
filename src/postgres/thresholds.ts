import { z } from 'zod';
import type { Target } from '../config.js';

/**
 * When a report flags a number, per target. A value at or above `warn` is a warning, at or above
 * `critical` critical; leaving a level out never flags at that level. Defaults follow check_postgres
 * and pganalyze where they have one, and say so.
 */
export interface Level {
  warn?: number;
  critical?: number;
}

export interface Thresholds {
  /** Client backends as % of max_connections (check_postgres `backends`: 90 % / 95 %). */
  connectionsPercent: Level;
  /** Seconds a session has been idle inside its transaction (pganalyze: 30 min is critical). */
  idleInTransactionSeconds: Level;
  /**
   * age(datfrozenxid) / age(relfrozenxid). Wraparound stops writes near 2^31 (≈2.1 billion);
   * autovacuum forces freezing at autovacuum_freeze_max_age (200 million by default).
   * check_postgres `txn_wraparound` uses 1.3 / 1.4 billion; we warn earlier (1 billion) because
   * freezing a large table takes hours, and go critical at 1.5 billion.
   */
  xidAge: Level;
  /** n_dead_tup as % of live + dead tuples (a table needing VACUUM). */
  deadTuplePercent: Level;
  /** Estimated bloat (wasted bytes) of a table or index (check_postgres `bloat`: 1 GB / 5 GB). */
  bloatBytes: Level;
  /** A replica's replay lag behind the primary's current WAL position, bytes. */
  replicationLagBytes: Level;
  /** A replica's replay_lag, seconds. */
  replicationLagSeconds: Level;
  /** WAL an inactive replication slot keeps on disk, bytes (it grows until the disk is full). */
  inactiveSlotBytes: Level;
}

const GB = 1024 ** 3;
const MB = 1024 ** 2;

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  connectionsPercent: { warn: 90, critical: 95 },
  idleInTransactionSeconds: { warn: 5 * 60, critical: 30 * 60 },
  xidAge: { warn: 1_000_000_000, critical: 1_500_000_000 },
  deadTuplePercent: { warn: 20 },
  bloatBytes: { warn: 1 * GB, critical: 5 * GB },
  replicationLagBytes: { warn: 100 * MB, critical: 1 * GB },
  replicationLagSeconds: { warn: 60, critical: 300 },
  inactiveSlotBytes: { warn: 1 * GB, critical: 10 * GB },
});

const level = z
  .object({ warn: z.number().nonnegative().optional(), critical: z.number().nonnegative().optional() })
  .strict()
  .refine((l) => l.warn === undefined || l.critical === undefined || l.warn <= l.critical, 'warn must not be above critical');

/**
 * The targets file's `thresholds:` (per target): any subset of the keys above, each level
 * optional. Strict, like the rest of the file: a misspelt key must stop start-up.
 */
export const thresholdsSchema = z
  .object(Object.fromEntries(Object.keys(DEFAULT_THRESHOLDS).map((k) => [k, level.optional()])) as Record<keyof Thresholds, z.ZodOptional<typeof level>>)
  .strict();
export type ThresholdsConfig = z.infer<typeof thresholdsSchema>;

/**
 * A target's thresholds: its own levels key by key over the defaults (a target that sets only `warn`
 * for a key keeps the default `critical`). Reads `target.thresholds` when the config carries it;
 * anything that does not validate is ignored here (start-up validation is where it is refused).
 */
export function thresholdsFor(target: Pick<Target, 'name'>): Thresholds {
  const own = thresholdsSchema.safeParse((target as { thresholds?: unknown }).thresholds ?? {});
  const out = { ...DEFAULT_THRESHOLDS } as Thresholds;
  if (!own.success) return out;
  for (const [k, v] of Object.entries(own.data) as Array<[keyof Thresholds, Level | undefined]>) {
    if (v) out[k] = { ...DEFAULT_THRESHOLDS[k], ...v };
  }
  return out;
}

export type Severity = 'ok' | 'warn' | 'critical';

/** Where a value stands against a level; null (unknown) is never flagged. */
export function severity(value: number | null | undefined, l: Level): Severity {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'ok';
  if (l.critical !== undefined && value >= l.critical) return 'critical';
  if (l.warn !== undefined && value >= l.warn) return 'warn';
  return 'ok';
}
