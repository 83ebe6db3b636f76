import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Plan, Risk } from '../runbooks/runbook.js';
import { appendAudit } from './audit.js';
import { inTransaction, type Pool } from './db.js';
import { assertLease, LeaseLost, type Lease } from './leases.js';

export type RunState = 'pending_approval' | 'queued' | 'running' | 'succeeded' | 'failed' | 'denied' | 'expired' | 'refused';
export const TERMINAL: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'denied', 'expired', 'refused']);

export interface RunRow {
  id: string;
  runbook: string;
  target: string;
  environment: string;
  args: unknown;
  risk: Risk;
  plan: Plan<unknown>;
  planHash: string;
  requester: string;
  channel: string;
  reason: string | null;
  state: RunState;
  requiredApprovals: number;
  expiresAt: Date | null;
  nextStep: number;
  checkpoint: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  threadChannel: string | null;
  threadTs: string | null;
  cardChannel: string | null;
  cardTs: string | null;
  attempts: number;
  /** Who holds the right to execute (see leases.ts); fence bumps on every claim. */
  leaseOwner: string | null;
  leaseFence: number;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export function newRunId(): string {
  // Lowercase base36-ish, unguessable enough to not be enumerable in `/db run`.
  return `r_${randomBytes(8).toString('hex').slice(0, 12)}`;
}

export function toRun(r: Record<string, any>): RunRow {
  return {
    id: r.id,
    runbook: r.runbook,
    target: r.target,
    environment: r.environment,
    args: r.args,
    risk: r.risk,
    plan: r.plan,
    planHash: r.plan_hash,
    requester: r.requester,
    channel: r.channel,
    reason: r.reason,
    state: r.state,
    requiredApprovals: r.required_approvals,
    expiresAt: r.expires_at,
    nextStep: r.next_step,
    checkpoint: r.checkpoint ?? {},
    result: r.result,
    error: r.error,
    threadChannel: r.thread_channel,
    threadTs: r.thread_ts,
    cardChannel: r.card_channel,
    cardTs: r.card_ts,
    attempts: r.attempts,
    leaseOwner: r.lease_owner ?? null,
    leaseFence: Number(r.lease_fence ?? 0),
    leaseExpiresAt: r.lease_expires_at ?? null,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** What a new request records; the rest of RunRow is filled in by the database and the run. */
export type NewRun = Pick<RunRow, 'id' | 'runbook' | 'target' | 'environment' | 'args' | 'risk' | 'plan' | 'planHash' | 'requester' | 'channel' | 'state' | 'requiredApprovals'> & {
  reason?: string;
  expiresAt?: Date;
  error?: string;
};

/** Inline reads run in the process that answers the command: they hold a lease from the start. */
export const INLINE_OWNER = 'inline';
const INLINE_LEASE_MINUTES = 15;

/** Records the request and its plan, with its audit row, atomically. */
export async function createRun(pool: Pool, r: NewRun): Promise<RunRow> {
  return inTransaction(pool, async (c) => {
    const res = await c.query(
      `INSERT INTO runs (id, runbook, target, environment, args, risk, plan, plan_hash, requester, channel, reason, state, required_approvals, expires_at, error,
                         lease_owner, lease_fence, lease_expires_at, attempts, started_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,
               CASE WHEN $12 = 'running' THEN '${INLINE_OWNER}' END, CASE WHEN $12 = 'running' THEN 1 ELSE 0 END,
               CASE WHEN $12 = 'running' THEN now() + interval '${INLINE_LEASE_MINUTES} minutes' END,
               CASE WHEN $12 = 'running' THEN 1 ELSE 0 END, CASE WHEN $12 = 'running' THEN now() END) RETURNING *`,
      [r.id, r.runbook, r.target, r.environment, JSON.stringify(r.args ?? {}), r.risk, JSON.stringify(r.plan), r.planHash, r.requester, r.channel, r.reason ?? null, r.state, r.requiredApprovals, r.expiresAt ?? null, r.error ?? null],
    );
    await appendAudit(c, {
      actor: r.requester,
      action: 'request',
      runId: r.id,
      target: r.target,
      channel: r.channel,
      outcome: r.state,
      detail: { runbook: r.runbook, risk: r.risk, summary: r.plan.summary, planHash: r.planHash, args: r.args ?? {}, ...(r.reason ? { reason: r.reason } : {}) },
    });
    return toRun(res.rows[0]);
  });
}

export async function getRun(pool: Pool | pg.ClientBase, id: string): Promise<RunRow | null> {
  const res = await pool.query('SELECT * FROM runs WHERE id = $1', [id]);
  return res.rows[0] ? toRun(res.rows[0]) : null;
}

export async function lockRun(c: pg.ClientBase, id: string): Promise<RunRow | null> {
  const res = await c.query('SELECT * FROM runs WHERE id = $1 FOR UPDATE', [id]);
  return res.rows[0] ? toRun(res.rows[0]) : null;
}

/**
 * Compare-and-set on state: the one place that decides transitions. Returns the updated row, or
 * null when the run was not in one of `from` (someone else got there first).
 */
export async function transition(
  c: Pool | pg.ClientBase,
  id: string,
  from: readonly RunState[],
  to: RunState,
  extra: { error?: string | null; result?: Record<string, unknown> | null } = {},
): Promise<RunRow | null> {
  const res = await c.query(
    `UPDATE runs SET state = $3, updated_at = now(),
        started_at = CASE WHEN $3 = 'running' AND started_at IS NULL THEN now() ELSE started_at END,
        attempts = CASE WHEN $3 = 'running' THEN attempts + 1 ELSE attempts END,
        finished_at = CASE WHEN $3 IN ('succeeded','failed','denied','expired','refused') THEN now() ELSE finished_at END,
        error = COALESCE($4, error), result = COALESCE($5::jsonb, result)
      WHERE id = $1 AND state = ANY($2::text[]) RETURNING *`,
    [id, from, to, extra.error ?? null, extra.result ? JSON.stringify(extra.result) : null],
  );
  return res.rows[0] ? toRun(res.rows[0]) : null;
}

export async function setThread(pool: Pool, id: string, channel: string, ts: string): Promise<void> {
  await pool.query('UPDATE runs SET thread_channel = $2, thread_ts = $3, updated_at = now() WHERE id = $1 AND thread_ts IS NULL', [id, channel, ts]);
}

export async function setCard(pool: Pool, id: string, channel: string, ts: string): Promise<void> {
  await pool.query('UPDATE runs SET card_channel = $2, card_ts = $3, updated_at = now() WHERE id = $1', [id, channel, ts]);
}

/** Merges into the run's checkpoint, only under the current lease (a stale worker's write is refused). */
export async function saveCheckpoint(pool: Pool, lease: Lease, data: Record<string, unknown>): Promise<void> {
  const res = await pool.query(`UPDATE runs SET checkpoint = checkpoint || $3::jsonb, updated_at = now() WHERE id = $1 AND lease_fence = $2 AND state = 'running'`, [lease.runId, lease.fence, JSON.stringify(data)]);
  if (res.rowCount !== 1) throw new LeaseLost(lease.runId);
}

/** Records that a step (re)starts; returns its attempt number. Refused when the lease is not current. */
export async function stepStarted(pool: Pool, lease: Lease, idx: number, name: string): Promise<number> {
  const res = await pool.query<{ attempts: number }>(
    `INSERT INTO run_steps (run_id, idx, name, state)
       SELECT $1, $2, $3, 'running' WHERE EXISTS (SELECT 1 FROM runs WHERE id = $1 AND lease_fence = $4 AND state = 'running')
     ON CONFLICT (run_id, idx) DO UPDATE SET attempts = run_steps.attempts + 1, state = 'running', error = NULL, started_at = now()
     RETURNING attempts`,
    [lease.runId, idx, name, lease.fence],
  );
  if (!res.rows[0]) throw new LeaseLost(lease.runId);
  return res.rows[0].attempts;
}

/**
 * Marks the step done and advances the run's cursor in one transaction, with its audit row —
 * only under the current fence, so a worker that lost its lease cannot record (or skip) a step.
 */
export async function stepDone(pool: Pool, lease: Lease, run: Pick<RunRow, 'target' | 'channel'>, idx: number, name: string, output: Record<string, unknown>): Promise<void> {
  await inTransaction(pool, async (c) => {
    await assertLease(c, lease);
    await c.query(`UPDATE run_steps SET state = 'done', output = $3, finished_at = now() WHERE run_id = $1 AND idx = $2`, [lease.runId, idx, JSON.stringify(output)]);
    await c.query(`UPDATE runs SET next_step = GREATEST(next_step, $2), updated_at = now() WHERE id = $1`, [lease.runId, idx + 1]);
    await appendAudit(c, { actor: 'dbops', action: 'step', runId: lease.runId, target: run.target, channel: run.channel, outcome: 'done', detail: { step: name, idx } });
  });
}

/** `error` is the user-facing message (shown by `/db run`); raw driver errors stay in the logs. */
export async function stepFailed(pool: Pool, lease: Lease, idx: number, error: string): Promise<void> {
  await pool.query(
    `UPDATE run_steps SET state = 'failed', error = $4, finished_at = now()
      WHERE run_id = $1 AND idx = $2 AND EXISTS (SELECT 1 FROM runs WHERE id = $1 AND lease_fence = $3)`,
    [lease.runId, idx, lease.fence, error],
  );
}

export async function stepOutputs(pool: Pool, runId: string): Promise<Record<string, unknown>> {
  const res = await pool.query<{ name: string; output: unknown }>(`SELECT name, output FROM run_steps WHERE run_id = $1 AND state = 'done' ORDER BY idx`, [runId]);
  return Object.fromEntries(res.rows.map((r) => [r.name, r.output]));
}

export async function listSteps(pool: Pool, runId: string): Promise<Array<{ idx: number; name: string; state: string; attempts: number; error: string | null; startedAt: Date; finishedAt: Date | null }>> {
  const res = await pool.query(`SELECT idx, name, state, attempts, error, started_at, finished_at FROM run_steps WHERE run_id = $1 ORDER BY idx`, [runId]);
  return res.rows.map((r) => ({ idx: r.idx, name: r.name, state: r.state, attempts: r.attempts, error: r.error, startedAt: r.started_at, finishedAt: r.finished_at }));
}

export async function listRuns(pool: Pool, q: { target?: string; limit?: number }): Promise<RunRow[]> {
  const res = await pool.query(
    `SELECT * FROM runs WHERE ($1::text IS NULL OR target = $1)
      ORDER BY (state IN ('pending_approval','queued','running')) DESC, created_at DESC LIMIT $2`,
    [q.target ?? null, q.limit ?? 15],
  );
  return res.rows.map(toRun);
}

/**
 * Runs the queue should be holding: used to re-enqueue after Redis lost its data. Only runs nobody
 * is executing: queued, or running with an expired lease (a live worker that lost Redis keeps its
 * lease and finishes). Inline reads are never re-enqueued.
 */
export async function runsToEnqueue(pool: Pool): Promise<string[]> {
  const res = await pool.query<{ id: string }>(
    `SELECT id FROM runs WHERE risk <> 'read'
        AND (state = 'queued' OR (state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
      ORDER BY created_at`,
  );
  return res.rows.map((r) => r.id);
}

/** Inline reads whose process died mid-answer: record them failed instead of leaving them "running". */
export async function failAbandonedReads(pool: Pool): Promise<number> {
  const res = await pool.query(
    `UPDATE runs SET state = 'failed', error = 'interrupted: the bot restarted while answering; ask again', finished_at = now(), updated_at = now(), lease_expires_at = NULL
      WHERE risk = 'read' AND state = 'running' AND lease_expires_at < now()`,
  );
  return res.rowCount ?? 0;
}

/** lease_owner of a failed run while `/db run <id> abort` removes what it created (jobs/abort.ts). */
export const ABORT_OWNER = 'abort';
const ABORT_LEASE_MINUTES = 10;

/**
 * What a resumed run must not carry over from its failed attempt: its progress message (a new one is
 * posted), a "queued behind" note, and the failed step's polling clock (or it would fail its deadline again).
 */
const resumeSet = `error = NULL, result = NULL, finished_at = NULL, updated_at = now(), lease_owner = NULL, lease_expires_at = NULL,
        attempts = LEAST(attempts, 1),
        checkpoint = checkpoint - 'progressTs' - 'queuedBehind' - ('waitingSince:' || next_step)`;
/** Only a failed run nobody is aborting, and that was not aborted, may be resumed. */
const resumable = `state = 'failed' AND lease_owner IS DISTINCT FROM '${ABORT_OWNER}' AND NOT (checkpoint ? 'aborted')`;

/**
 * `/db run <id> resume` without a new approval: failed → queued (a transition only this path makes).
 * `attempts` restarts at 1 so the claim counts this as a resume, and MAX_ATTEMPTS counts from here.
 */
export async function requeueFailed(c: Pool | pg.ClientBase, id: string): Promise<RunRow | null> {
  const res = await c.query(`UPDATE runs SET state = 'queued', ${resumeSet} WHERE id = $1 AND ${resumable} RETURNING *`, [id]);
  return res.rows[0] ? toRun(res.rows[0]) : null;
}

/**
 * `/db run <id> resume` when the approval no longer stands: failed → pending_approval, with a fresh
 * expiry and quorum, and no card until the new one is posted (so no old card's buttons can decide it).
 */
export async function reopenForApproval(c: pg.ClientBase, id: string, requiredApprovals: number, expiresAt: Date): Promise<RunRow | null> {
  const res = await c.query(
    `UPDATE runs SET state = 'pending_approval', required_approvals = $2, expires_at = $3, card_channel = NULL, card_ts = NULL, ${resumeSet}
      WHERE id = $1 AND ${resumable} RETURNING *`,
    [id, requiredApprovals, expiresAt],
  );
  return res.rows[0] ? toRun(res.rows[0]) : null;
}

/** Takes a failed run for its abort (one abort at a time; a resume is refused meanwhile). Null: not abortable now. */
export async function claimAbort(pool: Pool, id: string): Promise<{ run: RunRow; lease: Lease } | null> {
  const res = await pool.query(
    `UPDATE runs SET lease_owner = '${ABORT_OWNER}', lease_fence = lease_fence + 1, lease_expires_at = now() + interval '${ABORT_LEASE_MINUTES} minutes', updated_at = now()
      WHERE id = $1 AND state = 'failed' AND NOT (checkpoint ? 'aborted')
        AND (lease_owner IS DISTINCT FROM '${ABORT_OWNER}' OR lease_expires_at < now()) RETURNING *`,
    [id],
  );
  if (!res.rows[0]) return null;
  const run = toRun(res.rows[0]);
  return { run, lease: { runId: id, owner: ABORT_OWNER, fence: run.leaseFence } };
}

/** Records the abort on the run (it stays failed, and can no longer be resumed) with its audit row. */
export async function finishAbort(pool: Pool, lease: Lease, actor: string, report: { removed: string[]; kept: string[] }): Promise<RunRow | null> {
  return inTransaction(pool, async (c) => {
    const res = await c.query(
      `UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
          checkpoint = checkpoint || jsonb_build_object('aborted', jsonb_build_object('by', $3::text, 'at', now(), 'removed', $4::jsonb, 'kept', $5::jsonb))
        WHERE id = $1 AND lease_fence = $2 AND lease_owner = '${ABORT_OWNER}' RETURNING *`,
      [lease.runId, lease.fence, actor, JSON.stringify(report.removed), JSON.stringify(report.kept)],
    );
    if (!res.rows[0]) return null;
    const run = toRun(res.rows[0]);
    await appendAudit(c, { actor, action: 'abort', runId: run.id, target: run.target, channel: run.channel, outcome: 'aborted', detail: { removed: report.removed, kept: report.kept } });
    return run;
  });
}

/** An abort that failed gives the run back (it may be aborted again, or resumed). */
export async function releaseAbort(pool: Pool, lease: Lease): Promise<void> {
  await pool.query(`UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_fence = $2 AND lease_owner = '${ABORT_OWNER}'`, [lease.runId, lease.fence]);
}
