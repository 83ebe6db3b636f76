import type { ApprovedSession } from '../postgres/kill.js';
import type { Drift } from './runbook.js';

/** A session's identity as approved: a reused pid (new backend_start) is another session. */
export const identityOf = (s: ApprovedSession): string => `${s.pid}@${s.backendStart}`;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * Sessions come and go on a busy pool between request and approval; that must not make a kill
 * un-approvable. The approval stands for the approved sessions still there (execution acts on
 * approved ∩ still matching only); new sessions are never added to it. It is refused only when none
 * of the approved sessions is left.
 */
export function sessionDrift(approved: readonly ApprovedSession[], current: readonly ApprovedSession[] | null): Drift {
  const now = new Set((current ?? []).map(identityOf));
  const was = new Set(approved.map(identityOf));
  const gone = approved.filter((s) => !now.has(identityOf(s))).length;
  const fresh = (current ?? []).filter((s) => !was.has(identityOf(s))).length;
  if (gone === approved.length) return { ok: false, note: `all ${plural(approved.length, 'approved session is', 'approved sessions are')} already gone — nothing left to act on` };
  const notes = [
    gone ? `${gone} of ${approved.length} already gone` : '',
    fresh ? `${plural(fresh, 'new session', 'new sessions')} not included — request again to include ${fresh === 1 ? 'it' : 'them'}` : '',
  ].filter(Boolean);
  return notes.length ? { ok: true, note: notes.join('; ') } : { ok: true };
}
