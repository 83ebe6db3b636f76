import type pg from 'pg';
import type { Target } from '../config.js';
import { formatDuration } from '../duration.js';
import { pidFacts, type PidFacts } from '../postgres/pid-facts.js';
import { BOT_APPLICATION_NAME } from '../postgres/session.js';
import type { CaptureArgs } from './capture.js';

/**
 * Why a pid the user named was not taken, in the order the guards apply, with the command that
 * would work when there is one. "not found or protected" sent people in circles.
 */
export function whyNotEligible(target: Pick<Target, 'name' | 'protectedApps' | 'protectedUsers'>, a: CaptureArgs, mode: 'terminate' | 'cancel', f: PidFacts): string {
  const p = `pid ${f.pid}`;
  if (!f.exists) return `${p} is not running on this server (it ended, or never existed); see \`/db connections ${target.name}\``;
  if (f.ownBackend || f.app === BOT_APPLICATION_NAME) return `${p} is dbops itself; the bot never signals its own sessions`;
  if (f.backendType !== 'client backend') return `${p} is not a client session (${f.backendType ?? 'unknown backend'}); dbops only signals client backends`;
  const db = a.database ?? f.currentDatabase;
  if (f.database !== db) {
    return mode === 'terminate' && a.database === undefined
      ? `${p} is connected to database ${f.database ?? '?'}, not ${db}; to end it anyway: \`/db kill ${target.name} ${f.pid} --database ${f.database ?? '?'}\``
      : `${p} is connected to database ${f.database ?? '?'}, not ${db}`;
  }
  if (f.app && target.protectedApps.includes(f.app)) return `${p} belongs to application ${f.app}, which is protected on ${target.name} (targets file)`;
  if (f.user && target.protectedUsers.includes(f.user)) return `${p} belongs to role ${f.user}, which is protected on ${target.name} (targets file)`;
  const verb = mode === 'terminate' ? 'kill' : 'cancel';
  if (f.isSuperuser && a['include-superusers'] !== true) return `${p} is a superuser session (${f.user ?? '?'}); add --include-superusers: \`/db ${verb} ${target.name} ${f.pid} --include-superusers\``;
  const su = a['include-superusers'] ? ' --include-superusers' : '';
  const age = f.stateSeconds !== null ? ` for ${formatDuration(f.stateSeconds)}` : '';
  if (mode === 'cancel' && f.state !== 'active') {
    if (f.state === null) return `${p}'s state is hidden from the bot (grant it pg_monitor), so it cannot tell whether a query is running — \`/db kill ${target.name} ${f.pid}${su}\` ends the session`;
    return `${p} is ${f.state}; cancel only stops a running query — \`/db kill ${target.name} ${f.pid}${su}\``;
  }
  if (a['older-than'] && (f.stateSeconds ?? 0) < a['older-than']) return `${p} is ${f.state ?? 'in an unknown state'}${age}, younger than --older-than ${formatDuration(a['older-than'])}`;
  if (a.app !== undefined && f.app !== a.app) return `${p} is application ${f.app || '(none)'}, not --app ${a.app}`;
  if (a.user !== undefined && f.user !== a.user) return `${p} is role ${f.user ?? '?'}, not --user ${a.user}`;
  return `${p} does not match the selection any more`;
}

export async function explainNotEligible(c: pg.Client, target: Target, a: CaptureArgs, mode: 'terminate' | 'cancel', pids: number[]): Promise<string[]> {
  if (!pids.length) return [];
  return (await pidFacts(c, pids.slice(0, 10))).map((f) => whyNotEligible(target, a, mode, f));
}
