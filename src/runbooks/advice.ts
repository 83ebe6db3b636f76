import type { Target } from '../config.js';
import { BOT_APPLICATION_NAME } from '../postgres/session.js';

/** What we know about a session we are about to recommend ending. */
export interface SessionFacts {
  pid: number;
  state: string | null;
  app: string | null;
  user: string | null;
  backendType?: string | null;
  isSuperuser?: boolean;
}

export interface Advice {
  /** a copyable `/db …` command that will work, or null when dbops cannot end this session */
  command: string | null;
  /** why this command (or why none), in a few words */
  why: string;
}

/**
 * The command that actually ends what a session holds (locks, a snapshot). Cancel stops a running
 * query, and an aborted transaction releases its locks and snapshot; a session that is idle in a
 * transaction runs nothing, so only terminating it rolls the transaction back. The same guards the
 * kill/cancel runbooks apply are checked here, so the advice is never a command that gets refused.
 */
export function endAdvice(target: Pick<Target, 'name' | 'protectedApps' | 'protectedUsers'>, s: SessionFacts): Advice {
  if (s.backendType && s.backendType !== 'client backend') {
    return { command: null, why: `a ${s.backendType} process, not a client session: dbops does not signal it` };
  }
  if (s.app === BOT_APPLICATION_NAME) return { command: null, why: 'a dbops session: it ends when its run finishes' };
  if (s.app && target.protectedApps.includes(s.app)) return { command: null, why: `application ${s.app} is protected on ${target.name}: end it from the application` };
  if (s.user && target.protectedUsers.includes(s.user)) return { command: null, why: `role ${s.user} is protected on ${target.name}: end it from the application` };
  const su = s.isSuperuser ? ' --include-superusers' : '';
  if (s.state === 'active') return { command: `/db cancel ${target.name} ${s.pid}${su}`, why: 'running a query: cancelling it aborts the transaction and releases what it holds' };
  if (s.state === null) return { command: `/db kill ${target.name} ${s.pid}${su}`, why: 'its state is hidden from the bot (grant it pg_monitor): only kill is sure to release it' };
  return { command: `/db kill ${target.name} ${s.pid}${su}`, why: `${s.state}: cancel only stops a running query, so only ending the session releases it` };
}
