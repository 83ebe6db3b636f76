import type pg from 'pg';
import type { Pool } from './db.js';

export interface ApprovalRow {
  approver: string;
  decision: 'approve' | 'deny';
  reason: string | null;
  at: Date;
}

export async function listApprovals(c: Pool | pg.ClientBase, runId: string): Promise<ApprovalRow[]> {
  const res = await c.query(`SELECT approver, decision, reason, at FROM approvals WHERE run_id = $1 ORDER BY at`, [runId]);
  return res.rows as ApprovalRow[];
}

/** One decision per person per run; a repeated click is a no-op (returns false). */
export async function recordDecision(c: pg.ClientBase, runId: string, approver: string, decision: 'approve' | 'deny', reason: string | null): Promise<boolean> {
  const res = await c.query(`INSERT INTO approvals (run_id, approver, decision, reason) VALUES ($1,$2,$3,$4) ON CONFLICT (run_id, approver) DO NOTHING`, [runId, approver, decision, reason]);
  return res.rowCount === 1;
}
