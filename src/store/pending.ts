import type { Pool } from './db.js';

/** The requester's runs still waiting for approval (not expired), oldest first. */
export async function pendingApprovalsOf(pool: Pool, requester: string, limit = 20): Promise<{ id: string; runbook: string; target: string }[]> {
  const r = await pool.query<{ id: string; runbook: string; target: string }>(
    `SELECT id, runbook, target FROM runs
      WHERE requester = $1 AND state = 'pending_approval' AND (expires_at IS NULL OR expires_at > now())
      ORDER BY created_at LIMIT $2`,
    [requester, limit],
  );
  return r.rows;
}
