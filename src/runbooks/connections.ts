import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { listSessions, type SessionList } from '../postgres/sessions.js';
import { code, esc } from '../slack/blocks.js';
import { defineRunbook } from './runbook.js';
import { nameFlag, stateFlag } from './session-args.js';
import { sessionTable } from './session-render.js';

const args = z
  .object({
    state: stateFlag.optional(),
    app: nameFlag.optional(),
    user: nameFlag.optional(),
    'older-than': z.number().int().min(1).optional(),
  })
  .strict();
type Args = z.infer<typeof args>;

const counts = (xs: Array<{ key: string; count: number }>) => (xs.length ? xs.slice(0, 8).map((x) => `${code(x.key || '-', 40)} *${x.count}*`).join(' · ') : '_none_');

export const connections = defineRunbook<Args, Record<string, never>>({
  name: 'connections',
  brief: 'Sessions by state, application, user and client',
  summary: 'Sessions on the target grouped by state, application, user and client, with the matching sessions.',
  usage: '/db connections <target> [--state active|idle|idle-in-transaction] [--app NAME] [--user NAME] [--older-than 10m]',
  examples: ['/db connections orders-prod', '/db connections orders-prod --state idle-in-transaction --older-than 5m'],
  grammar: {
    positionals: [],
    flags: {
      state: { kind: 'string', help: 'active, idle or idle-in-transaction' },
      app: { kind: 'string', help: 'exact application_name' },
      user: { kind: 'string', help: 'exact role name' },
      'older-than': { kind: 'duration', help: 'in that state (or query/transaction) for at least this long' },
    },
  },
  args,
  risk: () => 'read',
  plan: async ({ target }) => ({ summary: `Connections on ${target.name}`, steps: ['List client sessions (read-only)'], facts: {}, display: [] }),
  steps: [
    {
      name: 'list',
      run: async ({ session, args: a }) => {
        const [list, max] = await session(async (c) => [
          await listSessions(c, {
            ...(a.state ? { state: a.state === 'idle-in-transaction' ? 'idle in transaction' : a.state } : {}),
            ...(a.app ? { app: a.app } : {}),
            ...(a.user ? { user: a.user } : {}),
            ...(a['older-than'] ? { olderThanSeconds: a['older-than'] } : {}),
            includeSuperusers: true,
            includeBot: true,
          }),
          Number((await c.query<{ v: string }>(`SELECT current_setting('max_connections') AS v`)).rows[0]!.v),
        ] as const);
        return { list, maxConnections: max };
      },
    },
  ],
  result: (outputs) => {
    const { list, maxConnections } = outputs.list as { list: SessionList; maxConnections: number };
    return { headline: `${list.sessions.length} matching session(s) of max_connections ${maxConnections}`, facts: [] };
  },
  report: (outputs, _f, a, target) => {
    const { list, maxConnections } = outputs.list as { list: SessionList; maxConnections: number };
    const filter = [a.state && `state ${a.state}`, a.app && `app ${a.app}`, a.user && `user ${a.user}`, a['older-than'] && `older than ${formatDuration(a['older-than'])}`].filter(Boolean).join(', ');
    return [
      {
        title: `${target.name} · ${target.environment}${filter ? ` · ${filter}` : ''}`,
        mrkdwn: `*${list.sessions.length}* session(s) on this database · max_connections *${maxConnections}* (${((list.sessions.length / maxConnections) * 100).toFixed(1)}%)`,
      },
      { title: 'By state', mrkdwn: counts(list.counts.byState) },
      { title: 'By application', mrkdwn: counts(list.counts.byApp) },
      { title: 'By user', mrkdwn: counts(list.counts.byUser) },
      { title: 'By client', mrkdwn: counts(list.counts.byClient) },
      list.sessions.length ? { title: 'Sessions (longest first)', code: sessionTable(list.sessions, 25) } : { mrkdwn: `_${esc('No sessions match.')}_` },
    ];
  },
});
