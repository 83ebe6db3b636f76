import type pg from 'pg';
import type { Target } from '../config.js';
import { DbopsError } from '../errors.js';
import { listSessions, rootBlockers, type SessionFilter, type SessionInfo } from '../postgres/sessions.js';
import type { Selector } from './session-args.js';

export interface CaptureArgs {
  what: { selector: Selector } | { pids: number[] };
  'older-than'?: number;
  app?: string;
  user?: string;
  database?: string;
  'include-superusers'?: boolean;
  /** cancel only signals running queries */
  activeOnly?: boolean;
}

export interface Captured {
  sessions: SessionInfo[];
  /** pids the user named that are not eligible (gone, the bot, superuser, protected, other database) */
  notEligible: number[];
}

/**
 * The plan is the list: capture exactly which sessions match now, with the target's protections
 * (protected apps/users, superusers unless asked, the bot itself, non-client backends) applied.
 */
export async function captureSessions(c: pg.Client, target: Target, a: CaptureArgs, opts: { enforceCap?: boolean } = {}): Promise<Captured> {
  const filter: SessionFilter = {
    ...(a['older-than'] ? { olderThanSeconds: a['older-than'] } : {}),
    ...(a.app ? { app: a.app } : {}),
    ...(a.user ? { user: a.user } : {}),
    ...(a.database ? { database: a.database } : {}),
    includeSuperusers: a['include-superusers'] === true,
    protectedApps: [...target.protectedApps],
    protectedUsers: [...target.protectedUsers],
    ...(a.activeOnly ? { state: 'active' as const } : {}),
  };
  let sessions: SessionInfo[];
  let notEligible: number[] = [];
  if ('pids' in a.what) {
    const want = new Set(a.what.pids);
    sessions = (await listSessions(c, filter)).sessions.filter((s) => want.has(s.pid));
    const found = new Set(sessions.map((s) => s.pid));
    notEligible = a.what.pids.filter((p) => !found.has(p));
  } else if (a.what.selector === 'blockers') {
    sessions = await rootBlockers(c, filter);
  } else {
    const state = a.what.selector === 'idle' ? 'idle' : a.what.selector === 'idle-in-transaction' ? 'idle in transaction' : undefined;
    sessions = (await listSessions(c, { ...filter, ...(state ? { state } : {}) })).sessions;
  }
  sessions.sort((x, y) => x.pid - y.pid);
  // The cap bounds what a plan may ask for; execution re-captures only to intersect with the approved list.
  if (opts.enforceCap !== false && sessions.length > target.maxSessions) {
    throw new DbopsError(
      'too_many_sessions',
      `This would signal ${sessions.length} sessions, over this target's cap of ${target.maxSessions}. Narrow it with --older-than, --app, --user or --database, or raise \`maxSessions\` for ${target.name} in the targets file.`,
    );
  }
  return { sessions, notEligible };
}

export function describeWhat(a: CaptureArgs): string {
  const base = 'pids' in a.what ? `pid${a.what.pids.length > 1 ? 's' : ''} ${a.what.pids.slice(0, 10).join(', ')}${a.what.pids.length > 10 ? '…' : ''}` : `${a.what.selector} sessions`;
  const f = [a['older-than'] && `older than ${a['older-than']}s`, a.app && `app ${a.app}`, a.user && `user ${a.user}`, a.database && `database ${a.database}`, a['include-superusers'] && 'including superusers'].filter(Boolean);
  return f.length ? `${base} (${f.join(', ')})` : base;
}
