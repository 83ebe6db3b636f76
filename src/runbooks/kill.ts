import type pg from 'pg';
import { z } from 'zod';
import { signalSessions, type SignalResult } from '../postgres/kill.js';
import { DbopsError } from '../errors.js';
import { captureSessions, describeWhat } from './capture.js';
import { explainNotEligible } from './ineligible.js';
import { defineRunbook, type Runbook } from './runbook.js';
import { nameFlag, sessionTarget, SELECTORS } from './session-args.js';
import { identityOf, sessionDrift } from './session-drift.js';
import { sessionTable, summarizeSignals } from './session-render.js';

/** Marks each terminated session confirmed once its (pid, backend_start) is gone, polling up to 5 s. */
async function confirmGone(c: pg.Client, results: SignalResult[], approved: Identity[]): Promise<void> {
  const pending = results.filter((r) => r.outcome === 'terminated' && r.confirmed !== true);
  const start = new Map(approved.map((a) => [a.pid, a.backendStart]));
  const deadline = Date.now() + 5000;
  while (pending.length) {
    const alive = await c.query<{ pid: number }>(
      `SELECT a.pid FROM pg_stat_activity a JOIN unnest($1::int[], $2::text[]::timestamptz[]) AS t(pid, bs) ON a.pid = t.pid AND a.backend_start = t.bs`,
      [pending.map((r) => r.pid), pending.map((r) => start.get(r.pid)!)],
    );
    const still = new Set(alive.rows.map((r) => r.pid));
    for (const r of pending) r.confirmed = !still.has(r.pid);
    if (!still.size || Date.now() > deadline) return;
    await new Promise((res) => setTimeout(res, 100));
    pending.splice(0, pending.length, ...pending.filter((r) => still.has(r.pid)));
  }
}

type Identity = { pid: number; backendStart: string; queryStart: string | null };
type Facts = { mode: 'terminate' | 'cancel'; sessions: Identity[] };

const filters = {
  'older-than': z.number().int().min(1).optional(),
  app: nameFlag.optional(),
  user: nameFlag.optional(),
  database: nameFlag.optional(),
  'include-superusers': z.boolean().optional(),
};

const flagSpec = {
  'older-than': { kind: 'duration', help: 'only sessions in their state (or query/transaction) at least this long' },
  app: { kind: 'string', help: 'only this application_name' },
  user: { kind: 'string', help: 'only this role' },
  database: { kind: 'string', help: 'sessions of another database on the same server (default: the target database)' },
  'include-superusers': { kind: 'bool', help: 'also superuser sessions (left alone by default)' },
} as const;

/** Terminate (kill) and cancel share planning and execution; they differ in signal and risk. */
function signalRunbook(mode: 'terminate' | 'cancel'): Runbook {
  const kill = mode === 'terminate';
  const args = z.object({ what: sessionTarget(kill), ...filters }).strict();
  type Args = z.infer<typeof args>;
  return defineRunbook<Args, Facts>({
    name: kill ? 'kill' : 'cancel',
    brief: kill ? 'Terminate sessions by pid or by filter, only the approved ones' : 'Cancel running queries; the sessions stay connected',
    summary: kill
      ? `Terminate sessions: pids, or ${SELECTORS.join(' / ')} with filters. Only the approved sessions, verified by pid and start time.`
      : 'Cancel the running query of sessions (pg_cancel_backend); the session stays connected.',
    usage: kill ? '/db kill <target> <pid…|idle|idle-in-transaction|blockers|all> [--older-than 10m] [--app NAME] [--user NAME] [--database NAME]' : '/db cancel <target> <pid…>',
    examples: kill
      ? ['/db kill orders-prod 4242 4243', '/db kill orders-prod idle-in-transaction --older-than 10m', '/db kill orders-prod blockers --reason "lock pile-up on orders"', '/db kill orders-prod all --app reporting']
      : ['/db cancel orders-prod 4242'],
    grammar: {
      positionals: [{ name: 'what', required: true, rest: true, help: kill ? `pids, or one of ${SELECTORS.join(', ')}` : 'pids of sessions whose running query to cancel' }],
      flags: kill ? flagSpec : { 'include-superusers': flagSpec['include-superusers'] },
    },
    args,
    risk: () => (kill ? 'destructive' : 'change'),
    ...(kill ? { modal: 'kill' } : {}),
    drift: (approved, current) => sessionDrift(approved.sessions, current?.sessions ?? null),
    plan: async ({ target, args: a, session }) => {
      const cap = await session(async (c) => {
        const got = await captureSessions(c, target, { ...a, activeOnly: !kill });
        // Each named pid that was not taken gets its own reason, read in the same session.
        return { ...got, why: await explainNotEligible(c, target, a, mode, got.notEligible) };
      });
      if (cap.sessions.length === 0) {
        if (cap.why.length) throw new DbopsError('not_found', `Nothing to ${kill ? 'kill' : 'cancel'} on ${target.name}: ${cap.why.join('; ')}.`);
        throw new DbopsError('not_found', `No session matches ${describeWhat(a)} on ${target.name}. Nothing to ${kill ? 'kill' : 'cancel'}; see \`/db connections ${target.name}\`.`);
      }
      const n = cap.sessions.length;
      return {
        summary: `${kill ? 'Terminate' : 'Cancel queries of'} ${n} session${n > 1 ? 's' : ''} (${describeWhat(a)}) on ${target.name}`,
        steps: [
          `${kill ? 'pg_terminate_backend' : 'pg_cancel_backend'} on exactly the ${n} session(s) listed, in one statement`,
          `Each only if pid and backend_start${kill ? '' : ' and query_start'} still match: new sessions and reused pids are never touched`,
          'Report terminated / already gone / refused',
        ],
        facts: { mode, sessions: cap.sessions.map((s) => ({ pid: s.pid, backendStart: s.backendStart, queryStart: kill ? null : s.queryStart })) },
        display: [
          { label: 'Sessions', value: String(n) },
          { label: 'Selection', value: describeWhat(a) },
          ...(cap.why.length ? [{ label: 'Not included', value: cap.why.join('\n') }] : []),
        ],
        detail: sessionTable(cap.sessions, 20),
        impact: kill ? `${n} client connection(s) are closed; their open transactions roll back. Applications must reconnect.` : `${n} running quer${n > 1 ? 'ies are' : 'y is'} cancelled; the sessions stay connected.`,
        etaSeconds: 5,
      };
    },
    steps: [
      {
        name: 'signal',
        title: kill ? 'Terminating sessions' : 'Cancelling queries',
        run: async ({ session, facts, target, args: a }) =>
          session(async (c) => {
            // Approved ∩ still matching: a session that no longer fits the selection (an idle one now
            // busy, a protected app) is left alone even though it was approved.
            const now = new Set((await captureSessions(c, target, { ...a, activeOnly: !kill }, { enforceCap: false })).sessions.map((s) => identityOf(s)));
            const still = facts.sessions.filter((s) => now.has(identityOf(s)));
            const moved: SignalResult[] = facts.sessions.filter((s) => !now.has(identityOf(s))).map((s) => ({ pid: s.pid, outcome: 'already_gone', reason: 'ended or no longer matches the approved selection' }));
            // Signal all at once (one statement), then confirm by watching them leave pg_stat_activity:
            // waiting per session inside the statement costs ~100 ms each and would serialise a mass kill.
            // Small sets: PG14+ confirms each exit inside the statement (pg_terminate_backend(pid, timeout),
            // ~100 ms per session); large sets are signalled at once and confirmed by polling below.
            const small = facts.mode === 'terminate' && still.length <= 20;
            const results = await signalSessions(c, facts.mode, still, small ? { timeoutMs: 4000 } : {});
            if (facts.mode === 'terminate') await confirmGone(c, results, still);
            return { results: [...results, ...moved] };
          }),
      },
    ],
    leftState: () =>
      kill
        ? 'If the statement failed midway, sessions it had already signalled stay terminated (a signal cannot be rolled back). Check `/db connections` for what is left before retrying.'
        : 'No query was cancelled. Check `/db connections` before retrying.',
    result: (outputs, facts) => {
      const results = (outputs.signal as { results: SignalResult[] }).results;
      const s = summarizeSignals(results, kill ? 'terminated' : 'cancelled');
      return {
        headline: `${kill ? 'Terminated' : 'Cancelled'} ${s.signalled} of ${facts.sessions.length} approved session(s); ${s.alreadyGone} already gone, ${s.refused} refused`,
        facts: [
          { label: kill ? 'Terminated' : 'Cancelled', value: String(s.signalled) },
          { label: 'Already gone', value: String(s.alreadyGone) },
          { label: 'Refused', value: String(s.refused) },
          { label: 'Per session', value: s.lines.slice(0, 15).join('\n') || '-', code: false },
        ],
      };
    },
  });
}

export const kill = signalRunbook('terminate');
export const cancel = signalRunbook('cancel');
