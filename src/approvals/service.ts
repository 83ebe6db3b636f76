import { sessionFor } from '../postgres/session.js';
import { planHash } from '../runbooks/plan-hash.js';
import type { Drift } from '../runbooks/runbook.js';
import type { Registry } from '../runbooks/registry.js';
import type { TargetsConfig } from '../config.js';
import { appendAudit } from '../store/audit.js';
import { inTransaction, type Pool } from '../store/db.js';
import { listApprovals, recordDecision } from '../store/approvals.js';
import { getRun, lockRun, transition, type RunRow } from '../store/runs.js';
import { slackUserId } from '../slack/metadata.js';
import type { ApproverDirectory } from './usergroups.js';

export type Decision =
  | { ok: true; outcome: 'approved'; run: RunRow; approvers: string[]; drift?: string }
  | { ok: true; outcome: 'recorded'; run: RunRow; approvers: string[]; remaining: number; drift?: string }
  | { ok: true; outcome: 'denied'; run: RunRow }
  | { ok: false; reason: 'not_found' | 'self' | 'not_approver' | 'expired' | 'decided' | 'plan_changed' | 'duplicate'; message: string; run?: RunRow };

export interface ApprovalDeps {
  pool: Pool;
  registry: Registry;
  targets: TargetsConfig;
  directory: ApproverDirectory;
}

const STATE_WORDS: Record<string, string> = { queued: 'approved and queued', running: 'approved and running', succeeded: 'approved and finished', failed: 'approved and failed', denied: 'denied', expired: 'expired', refused: 'refused' };

/**
 * Re-plans now: an approval binds to facts, not to a request text. By default the facts must be
 * unchanged (same hash); a runbook that declares how its facts may drift (kill: sessions come and
 * go) decides itself whether the approval still stands.
 */
async function checkFacts(deps: ApprovalDeps, run: RunRow): Promise<Drift & { currentHash: string | null }> {
  const rb = deps.registry.get(run.runbook);
  const target = deps.targets.targets.get(run.target);
  if (!rb || !target) return { ok: false, note: 'this runbook or target is no longer configured', currentHash: null };
  let facts: unknown = null;
  try {
    facts = (await rb.plan({ target, args: run.args, requester: run.requester, runId: run.id, session: sessionFor(target) })).facts;
  } catch {
    facts = null;
  }
  const currentHash = facts === null ? null : planHash({ runbook: rb.name, target: target.name, args: run.args, facts });
  if (rb.drift) return { ...rb.drift(run.plan.facts, facts), currentHash };
  return currentHash === run.planHash ? { ok: true, currentHash } : { ok: false, note: 'plan changed', currentHash };
}

async function expireIfDue(pool: Pool, run: RunRow, actor: string): Promise<RunRow | null> {
  if (!run.expiresAt || run.expiresAt.getTime() > Date.now()) return null;
  return inTransaction(pool, async (c) => {
    const r = await transition(c, run.id, ['pending_approval'], 'expired', { error: 'approval expired' });
    if (r) await appendAudit(c, { actor, action: 'expire', runId: run.id, target: run.target, channel: run.channel, outcome: 'expired' });
    return r;
  });
}

/**
 * Approve: checks who, when and whether the facts still hold, then records the decision and — once
 * the quorum is met — moves the run to "queued" in the same transaction. The row lock and the state
 * compare-and-set make that transition happen once, across clicks, retries and replicas.
 */
export async function approve(deps: ApprovalDeps, runId: string, userId: string): Promise<Decision> {
  const run = await getRun(deps.pool, runId);
  if (!run) return { ok: false, reason: 'not_found', message: 'That request no longer exists.' };
  if (run.state !== 'pending_approval') return { ok: false, reason: 'decided', message: `This request was already ${STATE_WORDS[run.state] ?? run.state}.`, run };
  if (userId === run.requester) return { ok: false, reason: 'self', message: 'You requested this, so you cannot approve it: a second person must. Ask an approver in this channel.', run };
  const target = deps.targets.targets.get(run.target);
  if (!target || !(await deps.directory.isApprover(userId, target.approvers, { fresh: true }))) {
    return { ok: false, reason: 'not_approver', message: `You are not an approver for \`${run.target}\`. Approvers are listed in the targets file (users or user groups); ask one of them.`, run };
  }
  const expired = await expireIfDue(deps.pool, run, userId);
  if (expired) return { ok: false, reason: 'expired', message: 'This request expired before it was approved. Request it again if it is still needed.', run: expired };
  const facts = await checkFacts(deps, run);
  const drift = facts.ok ? facts.note : undefined;
  if (!facts.ok) {
    const refused = await inTransaction(deps.pool, async (c) => {
      const r = await transition(c, run.id, ['pending_approval'], 'refused', { error: 'plan changed since the request; request again' });
      if (r) await appendAudit(c, { actor: userId, action: 'approve', runId: run.id, target: run.target, channel: run.channel, outcome: 'plan_changed', detail: { approvedHash: run.planHash, currentHash: facts.currentHash, note: facts.note } });
      return r;
    });
    const why = facts.note === 'plan changed' ? '' : ` (${facts.note})`;
    return { ok: false, reason: 'plan_changed', message: `The facts this plan acts on have changed since it was requested${why}, so it was not approved. Request it again to see the current plan.`, run: refused ?? run };
  }
  return inTransaction(deps.pool, async (c): Promise<Decision> => {
    const locked = await lockRun(c, runId);
    if (!locked || locked.state !== 'pending_approval') return { ok: false, reason: 'decided', message: `This request was already ${STATE_WORDS[locked?.state ?? ''] ?? 'decided'}.`, ...(locked ? { run: locked } : {}) };
    if (locked.expiresAt && locked.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired', message: 'This request expired before it was approved. Request it again if it is still needed.', run: locked };
    // The approval's note is what had drifted when it was given (shown on the card and in /db run).
    const fresh = await recordDecision(c, runId, userId, 'approve', drift ?? null);
    if (!fresh) return { ok: false, reason: 'duplicate', message: 'You already approved this request.', run: locked };
    await appendAudit(c, { actor: userId, action: 'approve', runId, target: locked.target, channel: locked.channel, outcome: 'approved', detail: drift ? { drift } : {} });
    const approvers = (await listApprovals(c, runId)).filter((a) => a.decision === 'approve').map((a) => a.approver);
    if (approvers.length < locked.requiredApprovals) return { ok: true, outcome: 'recorded', run: locked, approvers, remaining: locked.requiredApprovals - approvers.length, ...(drift ? { drift } : {}) };
    const queued = await transition(c, runId, ['pending_approval'], 'queued');
    await appendAudit(c, { actor: 'dbops', action: 'queue', runId, target: locked.target, channel: locked.channel, outcome: 'queued', detail: { approvers } });
    return { ok: true, outcome: 'approved', run: queued!, approvers, ...(drift ? { drift } : {}) };
  });
}

export async function deny(deps: ApprovalDeps, runId: string, userId: string, reason: string | null): Promise<Decision> {
  const run = await getRun(deps.pool, runId);
  if (!run) return { ok: false, reason: 'not_found', message: 'That request no longer exists.' };
  const target = deps.targets.targets.get(run.target);
  // The requester may withdraw their own request; anyone else must be an approver.
  if (!slackUserId.safeParse(userId).success || (userId !== run.requester && (!target || !(await deps.directory.isApprover(userId, target.approvers, { fresh: true }))))) {
    return { ok: false, reason: 'not_approver', message: `You are not an approver for \`${run.target}\`, so you cannot deny this request.`, run };
  }
  return inTransaction(deps.pool, async (c): Promise<Decision> => {
    const locked = await lockRun(c, runId);
    if (!locked || locked.state !== 'pending_approval') return { ok: false, reason: 'decided', message: `This request was already ${STATE_WORDS[locked?.state ?? ''] ?? 'decided'}.`, ...(locked ? { run: locked } : {}) };
    await c.query('DELETE FROM approvals WHERE run_id = $1 AND approver = $2', [runId, userId]);
    await recordDecision(c, runId, userId, 'deny', reason);
    const denied = await transition(c, runId, ['pending_approval'], 'denied', { error: reason ? `denied: ${reason}` : 'denied' });
    await appendAudit(c, { actor: userId, action: 'deny', runId, target: locked.target, channel: locked.channel, outcome: 'denied', detail: reason ? { reason } : {} });
    return { ok: true, outcome: 'denied', run: denied! };
  });
}

/** The scheduled sweep: every pending request past its expiry becomes "expired" (once). */
export async function expireDue(pool: Pool): Promise<RunRow[]> {
  const due = await pool.query<{ id: string }>(`SELECT id FROM runs WHERE state = 'pending_approval' AND expires_at <= now()`);
  const out: RunRow[] = [];
  for (const { id } of due.rows) {
    const run = await getRun(pool, id);
    if (!run) continue;
    const r = await expireIfDue(pool, run, 'dbops');
    if (r) out.push(r);
  }
  return out;
}
