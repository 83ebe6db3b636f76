/**
 * Backup drills in the state database: the source of truth for what is scheduled. Redis (BullMQ's
 * job schedulers) only executes; a wiped Redis is refilled from these rows (src/jobs/drills.ts).
 */
import type { Pool } from './db.js';
import type { RunState } from './runs.js';

export interface DrillRow {
  target: string;
  everyMs: number;
  /** The first firing; later ones are at anchor + k × every (the scheduler keeps that phase). */
  anchorAt: Date;
  createdBy: string;
  createdAt: Date;
  /** The scheduler iteration (BullMQ job id) last acted on: a redelivered job is not acted on twice. */
  lastJobId: string | null;
  lastFiredAt: Date | null;
  lastRunId: string | null;
  /** What the last firing did when it did not produce a run (skipped, could not start), or the run's final state. */
  lastOutcome: string | null;
  lastDetail: string | null;
  /** The run whose result has been posted in the channel. */
  reportedRunId: string | null;
}

export interface DrillWithRun extends DrillRow {
  /** State of lastRunId, when there is one. */
  runState: RunState | null;
  runHeadline: string | null;
  /** The run's result facts (succeeded runs), for the channel post. */
  runFacts: Array<{ label: string; value: string; code?: boolean }>;
  runError: string | null;
  /** The last run whose result was posted (the last finished drill). */
  result: { runId: string; state: RunState; headline: string | null; error: string | null; finishedAt: Date | null } | null;
}

function toDrill(r: Record<string, any>): DrillWithRun {
  return {
    target: r.target,
    everyMs: Number(r.every_ms),
    anchorAt: r.anchor_at,
    createdBy: r.created_by,
    createdAt: r.created_at,
    lastJobId: r.last_job_id,
    lastFiredAt: r.last_fired_at,
    lastRunId: r.last_run_id,
    lastOutcome: r.last_outcome,
    lastDetail: r.last_detail,
    reportedRunId: r.reported_run_id,
    runState: r.run_state ?? null,
    runHeadline: r.run_result?.headline ?? null,
    runFacts: Array.isArray(r.run_result?.facts) ? r.run_result.facts : [],
    runError: r.run_error ?? null,
    result: r.reported_run_id && r.res_state
      ? { runId: r.reported_run_id, state: r.res_state, headline: r.res_result?.headline ?? null, error: r.res_error ?? null, finishedAt: r.res_finished_at ?? null }
      : null,
  };
}

const SELECT = `SELECT d.*, r.state AS run_state, r.result AS run_result, r.error AS run_error,
                       p.state AS res_state, p.result AS res_result, p.error AS res_error, p.finished_at AS res_finished_at
                  FROM backup_drills d LEFT JOIN runs r ON r.id = d.last_run_id LEFT JOIN runs p ON p.id = d.reported_run_id`;

/**
 * Creates or changes a target's drill. The same interval keeps its phase (re-running the command
 * does not postpone the next drill); a new interval starts again from `anchorAt`.
 */
export async function upsertDrill(pool: Pool, d: { target: string; everyMs: number; anchorAt: Date; createdBy: string }): Promise<DrillRow> {
  const r = await pool.query(
    `INSERT INTO backup_drills (target, every_ms, anchor_at, created_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (target) DO UPDATE SET
       anchor_at = CASE WHEN backup_drills.every_ms = EXCLUDED.every_ms THEN backup_drills.anchor_at ELSE EXCLUDED.anchor_at END,
       every_ms = EXCLUDED.every_ms, created_by = EXCLUDED.created_by, updated_at = now()
     RETURNING *`,
    [d.target, d.everyMs, d.anchorAt, d.createdBy],
  );
  return toDrill(r.rows[0]!);
}

export async function deleteDrill(pool: Pool, target: string): Promise<boolean> {
  return ((await pool.query('DELETE FROM backup_drills WHERE target = $1', [target])).rowCount ?? 0) > 0;
}

export async function listDrills(pool: Pool): Promise<DrillWithRun[]> {
  return (await pool.query(`${SELECT} ORDER BY d.target`)).rows.map(toDrill);
}

export async function getDrill(pool: Pool, target: string): Promise<DrillWithRun | null> {
  const r = await pool.query(`${SELECT} WHERE d.target = $1`, [target]);
  return r.rows[0] ? toDrill(r.rows[0]) : null;
}

/** Claims one scheduler iteration for this process; false when it was already acted on (a redelivered job). */
export async function claimFiring(pool: Pool, target: string, jobId: string): Promise<boolean> {
  const r = await pool.query(
    `UPDATE backup_drills SET last_job_id = $2, last_fired_at = now(), updated_at = now()
      WHERE target = $1 AND last_job_id IS DISTINCT FROM $2`,
    [target, jobId],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * What a firing did: `submitted` a run (the outcome then follows from the run), or no run and why
 * (`skipped`, `not started`); the previous run stays the last one, already reported.
 */
export async function recordFiring(pool: Pool, target: string, f: { runId?: string; outcome: string; detail?: string }): Promise<void> {
  await pool.query(
    `UPDATE backup_drills SET last_run_id = COALESCE($2, last_run_id), last_outcome = $3, last_detail = $4, updated_at = now()
      WHERE target = $1`,
    [target, f.runId ?? null, f.outcome, f.detail ?? null],
  );
}

/** Drills whose last run has finished and whose result has not been posted yet. */
export async function unreportedResults(pool: Pool): Promise<DrillWithRun[]> {
  const r = await pool.query(
    `${SELECT} WHERE d.last_run_id IS NOT NULL AND d.last_run_id IS DISTINCT FROM d.reported_run_id
       AND r.state IN ('succeeded','failed','denied','expired','refused')`,
  );
  return r.rows.map(toDrill);
}

/** Claims posting the result of `runId` (one process posts it, once). */
export async function claimReport(pool: Pool, target: string, runId: string, outcome: string): Promise<boolean> {
  const r = await pool.query(
    `UPDATE backup_drills SET reported_run_id = $2, last_outcome = $3, updated_at = now()
      WHERE target = $1 AND last_run_id = $2 AND reported_run_id IS DISTINCT FROM $2`,
    [target, runId, outcome],
  );
  return (r.rowCount ?? 0) > 0;
}

/** The next firing strictly after `now`: anchor + k × every. */
export function nextFiring(d: Pick<DrillRow, 'anchorAt' | 'everyMs'>, now = Date.now()): Date {
  const a = d.anchorAt.getTime();
  if (a > now) return new Date(a);
  return new Date(a + (Math.floor((now - a) / d.everyMs) + 1) * d.everyMs);
}
