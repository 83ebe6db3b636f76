import { formatDuration } from '../duration.js';
import type { SessionInfo } from '../postgres/sessions.js';
import type { SignalResult } from '../postgres/kill.js';

/** One line per session for cards and reports (plain text: rendered inside a code block). */
export function sessionLine(s: Pick<SessionInfo, 'pid' | 'user' | 'app' | 'client' | 'state' | 'durationSeconds' | 'waitEvent' | 'query'>): string {
  const q = (s.query ?? '').replace(/\s+/g, ' ').slice(0, 80);
  return `${String(s.pid).padStart(7)} ${(s.user ?? '?').slice(0, 14).padEnd(14)} ${(s.app || '-').slice(0, 16).padEnd(16)} ${(s.state ?? '?').slice(0, 19).padEnd(19)} ${formatDuration(s.durationSeconds ?? 0).padStart(7)}${s.waitEvent ? ` [${s.waitEvent}]` : ''} ${q}`;
}

export const SESSION_HEADER = `${'pid'.padStart(7)} ${'user'.padEnd(14)} ${'app'.padEnd(16)} ${'state'.padEnd(19)} ${'for'.padStart(7)} query`;

export function sessionTable(sessions: Parameters<typeof sessionLine>[0][], max = 25): string {
  const lines = [SESSION_HEADER, ...sessions.slice(0, max).map(sessionLine)];
  if (sessions.length > max) lines.push(`… and ${sessions.length - max} more`);
  return lines.join('\n');
}

export interface SignalSummary {
  signalled: number;
  alreadyGone: number;
  refused: number;
  lines: string[];
}

export function summarizeSignals(results: SignalResult[], verb: 'terminated' | 'cancelled'): SignalSummary {
  const signalled = results.filter((r) => r.outcome === 'terminated' || r.outcome === 'cancelled');
  const gone = results.filter((r) => r.outcome === 'already_gone');
  const refused = results.filter((r) => r.outcome === 'refused');
  const lines = [
    ...signalled.slice(0, 30).map((r) => `${String(r.pid).padStart(7)} ${verb}${r.confirmed === false ? ' (exit not confirmed)' : ''}`),
    ...gone.slice(0, 30).map((r) => `${String(r.pid).padStart(7)} already gone — ${r.reason ?? ''}`),
    ...refused.slice(0, 30).map((r) => `${String(r.pid).padStart(7)} refused — ${r.reason ?? ''}`),
  ];
  return { signalled: signalled.length, alreadyGone: gone.length, refused: refused.length, lines };
}
