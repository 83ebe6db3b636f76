import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Plan, Risk } from '../runbooks/runbook.js';
import { appendAudit } from './audit.js';
import { inTransaction, type Pool } from './db.js';

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
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export function newRunId(): string {
  // Lowercase base36-ish, unguessable enough to not be enumerable in `/db run`.
  return `r_${randomBytes(8).toString('hex').slice(0, 12)}`;
}

function toRun(r: Record<string, any>): RunRow {
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

/** Records the request and its plan, with its audit row, atomically. */
export async function createRun(pool: Pool, r: NewRun): Promise<RunRow> {
  return inTransaction(pool, async (c) => {
    const res = await c.query(
      `INSERT INTO runs (id, runbook, target, environment, args, risk, plan, plan_hash, requester, channel, reason, state, required_approvals, expires_at, error)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING *`,
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

export async function saveCheckpoint(pool: Pool, id: string, data: Record<string, unknown>): Promise<void> {
  await pool.query(`UPDATE runs SET checkpoint = checkpoint || $2::jsonb, updated_at = now() WHERE id = $1`, [id, JSON.stringify(data)]);
}

export async function stepStarted(pool: Pool, runId: string, idx: number, name: string): Promise<number> {
  const res = await pool.query<{ attempts: number }>(
    `INSERT INTO run_steps (run_id, idx, name, state) VALUES ($1,$2,$3,'running')
     ON CONFLICT (run_id, idx) DO UPDATE SET attempts = run_steps.attempts + 1, state = 'running', error = NULL, started_at = now()
     RETURNING attempts`,
    [runId, idx, name],
  );
  return res.rows[0]!.attempts;
}

/** Marks the step done and advances the run's cursor in one transaction, with its audit row. */
export async function stepDone(pool: Pool, run: RunRow, idx: number, name: string, output: Record<string, unknown>): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query(`UPDATE run_steps SET state = 'done', output = $3, finished_at = now() WHERE run_id = $1 AND idx = $2`, [run.id, idx, JSON.stringify(output)]);
    await c.query(`UPDATE runs SET next_step = GREATEST(next_step, $2), updated_at = now() WHERE id = $1`, [run.id, idx + 1]);
    await appendAudit(c, { actor: 'dbops', action: 'step', runId: run.id, target: run.target, channel: run.channel, outcome: 'done', detail: { step: name, idx } });
  });
}

export async function stepFailed(pool: Pool, runId: string, idx: number, error: string): Promise<void> {
  await pool.query(`UPDATE run_steps SET state = 'failed', error = $3, finished_at = now() WHERE run_id = $1 AND idx = $2`, [runId, idx, error]);
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

/** Runs the queue should be holding: used to re-enqueue after Redis lost its data. */
export async function runsToEnqueue(pool: Pool): Promise<string[]> {
  const res = await pool.query<{ id: string }>(`SELECT id FROM runs WHERE state IN ('queued','running') ORDER BY created_at`);
  return res.rows.map((r) => r.id);
}
