/**
 * Words and marks shared by the health reports (slow, bloat, indexes, replication, size): byte
 * sizes, severity flags, bounded lists. Everything returned here is mrkdwn-safe.
 */
import { formatDuration } from '../duration.js';
import type { Severity } from '../postgres/thresholds.js';
import { esc } from '../slack/blocks.js';

/** Bytes the way pg_size_pretty writes them (1024 steps, a unit once the number reaches 10 240). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 10 * 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${n < 0 ? '-' : ''}${Math.round(v)} ${units[i]}`;
}

/** 1234567 → 1,234,567 (xid ages and counts are long). */
export const num = (n: number | null | undefined): string => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));

/** A flag after a value: nothing when fine. */
export function flag(s: Severity): string {
  return s === 'critical' ? ' :rotating_light: *critical*' : s === 'warn' ? ' :warning: *warn*' : '';
}

/** The worst of several severities. */
export function worst(xs: Severity[]): Severity {
  return xs.includes('critical') ? 'critical' : xs.includes('warn') ? 'warn' : 'ok';
}

/** "3 critical, 1 warning" for a headline, or '' when nothing is flagged. */
export function flagCount(xs: Severity[]): string {
  const c = xs.filter((x) => x === 'critical').length;
  const w = xs.filter((x) => x === 'warn').length;
  return [c && `${c} critical`, w && `${w} warning${w > 1 ? 's' : ''}`].filter(Boolean).join(', ');
}

/** "5m ago" / "never" for an ISO time. */
export const ago = (iso: string | null): string => (iso ? `${formatDuration((Date.now() - Date.parse(iso)) / 1000)} ago` : 'never');

/** A bulleted list, at most `max` lines, with an italic line when empty or cut. */
export function bullets<T>(items: readonly T[], max: number, line: (x: T, i: number) => string, empty: string): string {
  if (items.length === 0) return `_${esc(empty)}_`;
  return items.slice(0, max).map((x, i) => line(x, i)).join('\n') + (items.length > max ? `\n_…and ${items.length - max} more_` : '');
}

/** Long lists split into several sections so each stays under Slack's 3000 characters. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Milliseconds for query timings: 420 µs, 4.21 ms, 12.3 ms, 4.2 s, 3m 20s. */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(ms / 1000);
}
