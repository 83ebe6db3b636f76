import type { Target } from '../config.js';
import type { Risk } from '../runbooks/runbook.js';

export const DEFAULT_EXPIRY_MINUTES = 30;

function quorum(v: unknown, risk: 'change' | 'destructive'): number | undefined {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object') return (v as Record<string, number | undefined>)[risk];
  return undefined;
}

/**
 * How many distinct approvers (never the requester) a plan needs; 0 = none.
 * Destructive always needs at least one, whatever the file says. Environment settings override the
 * target's/top-level ones.
 */
export function requiredApprovals(target: Target, risk: Risk): number {
  if (risk === 'read') return 0;
  const env = target.policy.environments?.[target.environment];
  if (risk === 'change') {
    const rule = env?.change ?? target.policy.change ?? 'auto';
    if (rule !== 'approval') return 0;
    return Math.max(1, quorum(env?.approvals, 'change') ?? quorum(target.policy.approvals, 'change') ?? 1);
  }
  return Math.max(1, quorum(env?.approvals, 'destructive') ?? quorum(target.policy.approvals, 'destructive') ?? 1);
}

export function expiryMinutes(target: Target): number {
  return target.policy.expiryMinutes ?? DEFAULT_EXPIRY_MINUTES;
}

/** Production-changing runs are announced even when they need no approval. */
export function shouldAnnounce(target: Target, risk: Risk): boolean {
  return risk === 'destructive' || (risk === 'change' && target.environment === 'production');
}
