import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { connectionHealth, type ConnectionHealth } from '../postgres/activity.js';
import { horizonHolders, type HorizonHolder } from '../postgres/horizon.js';
import { code, esc } from '../slack/blocks.js';
import { describeHolder } from './horizon-advice.js';
import type { Target } from '../config.js';
import { defineRunbook, type ReportSection } from './runbook.js';

const args = z.object({ 'long-running': z.number().int().min(1).max(86400).default(300) }).strict();
type Args = z.infer<typeof args>;

const list = <T>(items: T[], max: number, line: (x: T) => string, empty: string) =>
  items.length === 0 ? `_${empty}_` : items.slice(0, max).map(line).join('\n') + (items.length > max ? `\n_…and ${items.length - max} more_` : '');

const ago = (iso: string | null) => (iso ? `${formatDuration((Date.now() - Date.parse(iso)) / 1000)} ago` : 'never');

export function renderHealth(h: ConnectionHealth, longRunningSeconds: number): ReportSection[] {
  const c = h.connections;
  // check_postgres' backends thresholds: warn at 90 %, critical at 95 % of max_connections.
  const level = c.percentUsed >= 95 ? ' :rotating_light: critical' : c.percentUsed >= 90 ? ' :warning: high' : '';
  return [
    {
      fields: [
        { label: 'Connections (cluster)', value: `${c.clusterTotal} / ${c.maxConnections} (${c.percentUsed}%)${level}` },
        { label: 'On this database', value: String(c.databaseTotal) },
        { label: 'Database', value: h.database.name, code: true },
        { label: 'Size', value: h.database.sizePretty },
      ],
    },
    {
      title: 'By state',
      mrkdwn: list(c.byState, 10, (s) => `• ${esc(s.key)}: *${s.count}*`, 'no other sessions'),
    },
    {
      title: 'By application',
      mrkdwn: list(c.byApplication, 10, (s) => `• ${s.key ? code(s.key, 60) : '_(none)_'}: *${s.count}*`, 'no other sessions'),
    },
    {
      title: `Long-running queries (> ${formatDuration(longRunningSeconds)})`,
      mrkdwn: list(h.longRunning, 8, (q) => `• pid *${q.pid}* ${esc(q.user ?? '?')} ${code(q.app || '-', 40)} ${formatDuration(q.durationSeconds)}${q.waitEvent ? ` (waiting: ${esc(q.waitEvent)})` : ''}\n   ${code(q.query ?? '<insufficient privilege>', 200)}`, 'none'),
    },
    {
      title: 'Idle in transaction',
      mrkdwn: list(h.idleInTransaction, 8, (s) => `• pid *${s.pid}* ${esc(s.user ?? '?')} ${code(s.app || '-', 40)} open ${formatDuration(s.xactSeconds ?? 0)}, idle ${formatDuration(s.stateSeconds ?? 0)}\n   last: ${code(s.query ?? '', 160)}`, 'none'),
    },
    {
      title: 'Blocked queries',
      mrkdwn: list(
        h.blocked,
        8,
        (b) => `• pid *${b.pid}* waiting ${formatDuration(b.durationSeconds ?? 0)} on ${b.blockers.map((x) => `*${x.pid}* (${esc(x.state ?? '?')}, ${code(x.app || '-', 30)})`).join(', ')}\n   ${code(b.query ?? '', 160)}`,
        'none',
      ),
    },
    {
      title: 'Most dead tuples',
      // n_dead_tup / n_live_tup are the statistics collector's estimates, not counts.
      mrkdwn: list(h.topDeadTupleTables, 10, (t) => `• ${code(`${t.schema}.${t.name}`, 80)} dead *≈${t.nDeadTup}* / live ≈${t.nLiveTup}${t.deadPercent !== null ? ` (${t.deadPercent}%)` : ''} (est.) · vacuum ${ago(t.lastVacuum)} · autovacuum ${ago(t.lastAutovacuum)}`, 'no tables with dead tuples'),
    },
  ];
}

/** The oldest xmin horizon holder: what keeps VACUUM from removing dead tuples anywhere in this database. */
export function renderHorizon(target: Target, holders: readonly HorizonHolder[]): ReportSection {
  const [oldest, ...rest] = holders;
  if (!oldest) return { title: 'Oldest xmin horizon holder', mrkdwn: '_none: nothing holds back VACUUM right now_' };
  const also = rest.slice(0, 2).map((h) => `\n   next: ${esc(describeHolder(target, h))}`).join('');
  return { title: 'Oldest xmin horizon holder', mrkdwn: `• ${esc(describeHolder(target, oldest))}${oldest.catalogOnly ? ' (system catalogs only)' : ''}${also}` };
}

export const status = defineRunbook<Args, Record<string, never>>({
  name: 'status',
  brief: 'Connection health at a glance: sessions, blockers, horizon',
  summary: 'Connection health: sessions by state and app vs max_connections, long-running, idle-in-transaction, blocked, dead tuples, size, and what holds the xmin horizon.',
  usage: '/db status <target> [--long-running 5m]',
  examples: ['/db status orders-prod', '/db status orders-prod --long-running 2m'],
  grammar: { positionals: [], flags: { 'long-running': { kind: 'duration', help: 'what counts as long-running (default 5m)' } } },
  args,
  risk: () => 'read',
  plan: async ({ target }) => ({ summary: `Status of ${target.name}`, steps: ['Read connection health (read-only)'], facts: {}, display: [] }),
  steps: [
    {
      name: 'health',
      run: async ({ session, args: a }) =>
        session(async (c) => ({ health: await connectionHealth(c, { longRunningSeconds: a['long-running'] }), horizon: (await horizonHolders(c)).slice(0, 3) })),
    },
  ],
  result: (outputs) => {
    const h = (outputs.health as { health: ConnectionHealth }).health;
    return { headline: `Status of ${h.database.name}: ${h.connections.clusterTotal}/${h.connections.maxConnections} connections (${h.connections.percentUsed}%)`, facts: [] };
  },
  report: (outputs, _f, a, target) => {
    const { health: h, horizon } = outputs.health as { health: ConnectionHealth; horizon?: HorizonHolder[] };
    const sections = renderHealth(h, a['long-running']).map((s, i) => (i === 0 ? { ...s, title: `${target.name} · ${target.environment}` } : s));
    return [...sections, renderHorizon(target, horizon ?? [])];
  },
});
