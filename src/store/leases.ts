import type pg from 'pg';
import { inTransaction, type Pool } from './db.js';
import { toRun, type RunRow, type RunState } from './runs.js';

/**
 * Who may execute a run right now. Redis can lose its data (and BullMQ its locks) at any moment,
 * so the right to act lives here: owner + fence (bumped on every claim) + expiry renewed while a
 * step runs. Every write a run makes (step done, checkpoint, final state) names its fence; a
 * worker whose lease was taken over writes nothing.
 */
export interface Lease {
  readonly runId: string;
  readonly owner: string;
  readonly fence: number;
}

/** Thrown when a write is attempted under a fence that is no longer current: stand down. */
export class LeaseLost extends Error {
  constructor(readonly runId: string) {
    super(`lease on run ${runId} was lost (taken over or the run ended); standing down`);
    this.name = 'LeaseLost';
  }
}

/** lease_owner of a run parked by a polling step until its next look (lease_expires_at). */
export const WAITING_OWNER = 'waiting';

export type Claim =
  /** `woke`: the run was parked by a polling step, so this claim is its next look, not a new attempt. */
  | { ok: true; run: RunRow; lease: Lease; woke: boolean }
  /** Another executor holds a live lease; it may be retried after `until`. */
  | { ok: false; held: true; until: Date; run: RunRow }
  /** Not claimable: finished, waiting for approval, or unknown. */
  | { ok: false; held: false; run: RunRow | null }
  /** Destructive, and the target already runs as many destructive runs as it allows: wait in line. */
  | { ok: false; held: false; behind: { id: string; runbook: string }; run: RunRow };

/**
 * Claims a run for execution: only `queued`, or `running` whose lease expired (its worker died or
 * hung). The compare-and-set makes two executors handed the same run at once agree on one winner.
 */
export async function claimRun(pool: Pool, runId: string, owner: string, leaseMs: number, opts: { destructiveLimit?: (target: string) => number } = {}): Promise<Claim> {
  if (opts.destructiveLimit === undefined) return claimOn(pool, runId, owner, leaseMs);
  // One line per target: the advisory lock serialises claims of destructive runs on it, so two
  // workers cannot both see "nothing running" and start two at once.
  return inTransaction(pool, async (c) => {
    const cur = await c.query<{ target: string; risk: string }>('SELECT target, risk FROM runs WHERE id = $1', [runId]);
    const me = cur.rows[0];
    if (me?.risk === 'destructive') {
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('dbops-target:' || $1))`, [me.target]);
      const busy = await c.query<{ id: string; runbook: string }>(
        `SELECT id, runbook FROM runs WHERE target = $1 AND risk = 'destructive' AND state = 'running' AND id <> $2 ORDER BY started_at NULLS LAST`,
        [me.target, runId],
      );
      if (busy.rows.length >= opts.destructiveLimit!(me.target)) {
        const run = toRun((await c.query('SELECT * FROM runs WHERE id = $1', [runId])).rows[0]);
        if (run.state === 'queued') return { ok: false, held: false, behind: busy.rows[0]!, run };
      }
    }
    return claimOn(c, runId, owner, leaseMs);
  });
}

/** Records, once, that a run waits behind another; true for the caller that should say so. */
export async function markQueuedBehind(pool: Pool, runId: string, behind: string): Promise<boolean> {
  const res = await pool.query(
    `UPDATE runs SET checkpoint = checkpoint || jsonb_build_object('queuedBehind', $2::text), updated_at = now()
      WHERE id = $1 AND state = 'queued' AND checkpoint->>'queuedBehind' IS DISTINCT FROM $2`,
    [runId, behind],
  );
  return res.rowCount === 1;
}

async function claimOn(pool: Pool | pg.ClientBase, runId: string, owner: string, leaseMs: number): Promise<Claim> {
  const res = await pool.query(
    // prev is joined (FROM), not a subquery of RETURNING: evaluated there it would run after the
    // update and see no row (FOR UPDATE skips a row this statement changed), so woke was never true.
    `WITH prev AS (SELECT lease_owner FROM runs WHERE id = $1 FOR UPDATE)
     UPDATE runs SET state = 'running', lease_owner = $2, lease_fence = lease_fence + 1,
        lease_expires_at = now() + make_interval(secs => $3::double precision / 1000),
        attempts = attempts + CASE WHEN runs.lease_owner = '${WAITING_OWNER}' THEN 0 ELSE 1 END,
        started_at = COALESCE(started_at, now()), updated_at = now()
      FROM prev
      WHERE id = $1 AND (state = 'queued' OR (state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
      RETURNING runs.*, prev.lease_owner AS prev_owner`,
    [runId, owner, leaseMs],
  );
  if (res.rows[0]) {
    const run = toRun(res.rows[0]);
    return { ok: true, run, lease: { runId, owner, fence: run.leaseFence }, woke: res.rows[0].prev_owner === WAITING_OWNER };
  }
  const cur = await pool.query('SELECT * FROM runs WHERE id = $1', [runId]);
  const run = cur.rows[0] ? toRun(cur.rows[0]) : null;
  if (run && run.state === 'running' && run.leaseExpiresAt) return { ok: false, held: true, until: run.leaseExpiresAt, run };
  return { ok: false, held: false, run };
}

/** Extends the lease; false when it is no longer ours (taken over, or parked by us: stop acting). */
export async function renewLease(pool: Pool, lease: Lease, leaseMs: number): Promise<boolean> {
  const res = await pool.query(
    `UPDATE runs SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
      WHERE id = $1 AND lease_fence = $2 AND lease_owner = $4 AND state = 'running'`,
    [lease.runId, lease.fence, leaseMs, lease.owner],
  );
  return res.rowCount === 1;
}

/** Gives the run back (shutdown): the next executor may claim it at once instead of waiting out the lease. */
export async function releaseLease(pool: Pool, lease: Lease): Promise<void> {
  await pool.query(`UPDATE runs SET lease_expires_at = now() - interval '1 millisecond', lease_owner = NULL WHERE id = $1 AND lease_fence = $2 AND state = 'running'`, [lease.runId, lease.fence]);
}

/**
 * Parks the run until its next look (a polling step): nobody holds it, and neither a worker nor the
 * reconciler claims it before `afterMs` has passed.
 */
export async function parkRun(pool: Pool, lease: Lease, afterMs: number): Promise<boolean> {
  const res = await pool.query(
    `UPDATE runs SET lease_owner = '${WAITING_OWNER}', lease_expires_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
      WHERE id = $1 AND lease_fence = $2 AND state = 'running'`,
    [lease.runId, lease.fence, afterMs],
  );
  return res.rowCount === 1;
}

/** Locks the run row inside `c`'s transaction if `lease` is still current; throws LeaseLost otherwise. */
export async function assertLease(c: pg.ClientBase, lease: Lease): Promise<void> {
  const res = await c.query(`SELECT 1 FROM runs WHERE id = $1 AND lease_fence = $2 AND state = 'running' FOR UPDATE`, [lease.runId, lease.fence]);
  if (res.rowCount !== 1) throw new LeaseLost(lease.runId);
}

/** The run's final state, written only by the current lease holder (returns null otherwise). */
export async function finishRun(pool: Pool | pg.ClientBase, lease: Lease, to: Extract<RunState, 'succeeded' | 'failed'>, extra: { error?: string; result?: Record<string, unknown> }): Promise<RunRow | null> {
  const res = await pool.query(
    `UPDATE runs SET state = $3, updated_at = now(), finished_at = now(), lease_expires_at = NULL,
        error = COALESCE($4, error), result = COALESCE($5::jsonb, result)
      WHERE id = $1 AND lease_fence = $2 AND state = 'running' RETURNING *`,
    [lease.runId, lease.fence, to, extra.error ?? null, extra.result ? JSON.stringify(extra.result) : null],
  );
  return res.rows[0] ? toRun(res.rows[0]) : null;
}
