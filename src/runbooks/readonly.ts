import { z } from 'zod';
import { signalSessions, type SignalResult } from '../postgres/kill.js';
import { openWriterPids, readOnlyState, setDatabaseReadOnly } from '../postgres/readonly.js';
import type { SessionInfo } from '../postgres/sessions.js';
import { captureSessions } from './capture.js';
import { defineRunbook, type Drift, type Fact } from './runbook.js';
import { identityOf } from './session-drift.js';
import { sessionTable, summarizeSignals } from './session-render.js';

const args = z
  .object({
    state: z.string().transform((v, ctx) => {
      const s = v.toLowerCase();
      if (s === 'on' || s === 'off') return s;
      ctx.addIssue({ code: 'custom', message: `\`${v.slice(0, 20)}\` is not on or off` });
      return z.NEVER;
    }),
    'terminate-writers': z.boolean().optional(),
  })
  .strict()
  .refine((a) => !(a.state === 'off' && a['terminate-writers']), { message: '`--terminate-writers` goes with `on` only: turning read-only off ends no session', path: ['terminate-writers'] });
type Args = z.infer<typeof args>;

type Identity = { pid: number; backendStart: string; queryStart: null };
interface Facts {
  database: string;
  on: boolean;
  /** The sessions with an open write transaction to end, as captured by the kill guard (empty without --terminate-writers). */
  writers: Identity[];
  terminate: boolean;
}

/** Said on the card and in the result: this is a default for new sessions, not a lock. */
export const READONLY_CAVEAT =
  'This is a default, not a lock: a session can still run `SET default_transaction_read_only = off` (or `BEGIN READ WRITE`) and write; sessions already connected keep their setting until they reconnect; a role’s own setting (ALTER ROLE … SET) wins over the database’s.';

const identity = (s: Pick<SessionInfo, 'pid' | 'backendStart'>): Identity => ({ pid: s.pid, backendStart: s.backendStart, queryStart: null });

/** The writers that are still open writers with the same identity, through the kill guard's capture (protections applied). */
async function currentWriters(c: Parameters<typeof openWriterPids>[0], target: Parameters<typeof captureSessions>[1], enforceCap: boolean): Promise<SessionInfo[]> {
  const pids = await openWriterPids(c);
  if (!pids.length) return [];
  return (await captureSessions(c, target, { what: { pids } }, { enforceCap })).sessions;
}

/**
 * Writers come and go between request and approval: the approval stands for the approved ones still
 * writing (never new ones). Unlike a kill it does not lapse when they are all gone: the setting is
 * still what was asked for.
 */
function readonlyDrift(approved: Facts, current: Facts | null): Drift {
  if (current === null) return { ok: false, note: 'the target could not be planned again now' };
  if (current.database !== approved.database) return { ok: false, note: 'the target connects to another database now' };
  if (!approved.writers.length) return { ok: true };
  const now = new Set(current.writers.map(identityOf));
  const gone = approved.writers.filter((w) => !now.has(identityOf(w))).length;
  const fresh = current.writers.filter((w) => !approved.writers.some((a) => identityOf(a) === identityOf(w))).length;
  const notes = [gone ? `${gone} of ${approved.writers.length} approved writer session(s) already ended` : '', fresh ? `${fresh} new writer session(s) not included — request again to include them` : ''].filter(Boolean);
  return notes.length ? { ok: true, note: notes.join('; ') } : { ok: true };
}

export const readonly = defineRunbook<Args, Facts>({
  name: 'readonly',
  brief: 'Emergency read-only on or off',
  summary: 'Emergency read-only: new sessions of the target database start read-only (ALTER DATABASE … SET default_transaction_read_only); optionally end sessions with open write transactions.',
  usage: '/db readonly <target> on|off [--terminate-writers]',
  examples: ['/db readonly orders-prod on --reason "disk almost full"', '/db readonly orders-prod on --terminate-writers', '/db readonly orders-prod off'],
  grammar: {
    positionals: [{ name: 'state', required: true, help: '`on` (new sessions read-only) or `off`' }],
    flags: { 'terminate-writers': { kind: 'bool', help: 'also end sessions with an open write transaction (through the kill guard), so they reconnect read-only' } },
  },
  args,
  // Turning writes off stops the application; turning them back on is a change.
  risk: (a) => (a.state === 'on' ? 'destructive' : 'change'),
  plan: async ({ target, args: a, session }) => {
    const on = a.state === 'on';
    const terminate = a['terminate-writers'] === true;
    const got = await session(async (c) => ({ state: await readOnlyState(c), writers: terminate ? await currentWriters(c, target, true) : [] }));
    const { state, writers } = got;
    const display: Fact[] = [
      { label: 'Database', value: state.database, code: true },
      { label: 'Now', value: state.setting === null ? 'not set for the database (server default)' : `default_transaction_read_only = ${state.setting}` },
      { label: 'After', value: `default_transaction_read_only = ${a.state} for new sessions` },
      ...(state.roleOverrides.length ? [{ label: 'Role settings that win over it', value: state.roleOverrides.join('\n') }] : []),
      ...(terminate ? [{ label: 'Writer sessions to end', value: String(writers.length) }] : []),
      { label: 'Caveat', value: READONLY_CAVEAT },
    ];
    return {
      summary: `Read-only ${a.state} for database ${state.database} on ${target.name}${terminate ? `, ending ${writers.length} writer session(s)` : ''}`,
      steps: [
        `ALTER DATABASE ${state.database} SET default_transaction_read_only = ${a.state}`,
        ...(terminate ? [`pg_terminate_backend on exactly the ${writers.length} session(s) listed (open write transaction), each only if pid and backend_start still match`] : []),
      ],
      facts: { database: state.database, on, writers: writers.map(identity), terminate },
      display,
      ...(terminate && writers.length ? { detail: sessionTable(writers, 20) } : {}),
      impact: on
        ? `New sessions can read but not write (writes fail with SQLSTATE 25006).${terminate ? ' The listed sessions are closed and their open transactions roll back; they reconnect read-only.' : ' Sessions already connected keep writing until they reconnect (add --terminate-writers to end the ones writing now).'}`
        : 'New sessions may write again; sessions that connected while it was on stay read-only until they reconnect.',
      etaSeconds: 5,
    };
  },
  drift: readonlyDrift,
  steps: [
    {
      name: 'set',
      title: 'Setting default_transaction_read_only',
      run: async ({ session, facts }) =>
        session(async (c) => {
          const before = (await readOnlyState(c)).setting;
          // Idempotent: setting the same value again is harmless.
          await setDatabaseReadOnly(c, facts.database, facts.on);
          const after = await readOnlyState(c);
          return { before, after: after.setting, roleOverrides: after.roleOverrides };
        }),
    },
    {
      name: 'terminate',
      title: 'Ending writer sessions',
      run: async ({ session, facts, target }) => {
        if (!facts.terminate) return { skipped: true, results: [] };
        if (!facts.writers.length) return { results: [] };
        return session(async (c) => {
          // Approved ∩ still writing with the same identity: a session that committed meanwhile is left alone.
          const now = new Set((await currentWriters(c, target, false)).map((s) => identityOf(identity(s))));
          const still = facts.writers.filter((w) => now.has(identityOf(w)));
          const moved: SignalResult[] = facts.writers.filter((w) => !now.has(identityOf(w))).map((w) => ({ pid: w.pid, outcome: 'already_gone', reason: 'ended, or no open write transaction any more' }));
          const results = await signalSessions(c, 'terminate', still, still.length <= 20 ? { timeoutMs: 4000 } : {});
          return { results: [...results, ...moved] };
        });
      },
    },
  ],
  leftState: (step, facts) =>
    step === 'set'
      ? 'The database setting was not changed (ALTER DATABASE runs in its own transaction). No session was ended.'
      : `New sessions of ${facts.database} are read-${facts.on ? 'only' : 'write'}; ending the writer sessions did not complete (those already signalled stay ended). Check \`/db connections\` before retrying.`,
  result: (outputs, facts) => {
    const set = outputs.set as { before: string | null; after: string | null; roleOverrides: string[] };
    const term = outputs.terminate as { skipped?: boolean; results: SignalResult[] } | undefined;
    const out: Fact[] = [
      { label: 'Database', value: facts.database, code: true },
      { label: 'default_transaction_read_only', value: `${set.before ?? 'not set'} → ${set.after ?? 'not set'}` },
    ];
    if (set.roleOverrides.length) out.push({ label: 'Role settings that win over it', value: set.roleOverrides.join('\n') });
    if (facts.terminate && term) {
      const s = summarizeSignals(term.results, 'terminated');
      out.push({ label: 'Writer sessions ended', value: `${s.signalled} of ${facts.writers.length} (${s.alreadyGone} already gone, ${s.refused} refused)` });
      if (s.lines.length) out.push({ label: 'Per session', value: s.lines.slice(0, 15).join('\n') });
    }
    out.push({ label: 'Caveat', value: READONLY_CAVEAT });
    return { headline: `New sessions of ${facts.database} are ${facts.on ? 'read-only' : 'read-write again'}`, facts: out };
  },
});

