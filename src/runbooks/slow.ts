import { z } from 'zod';
import type { Target } from '../config.js';
import { statementsAvailability, topStatements, type StatementOrder, type TopStatements } from '../postgres/statements.js';
import { code, esc } from '../slack/blocks.js';
import { chunks, millis, num } from './report-format.js';
import { defineRunbook, type ReportSection } from './runbook.js';

const args = z
  .object({
    by: z.enum(['mean', 'total', 'calls'], { message: 'use mean, total or calls' }).default('mean'),
    limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(25, 'at most 25').default(10),
  })
  .strict();
type Args = z.infer<typeof args>;

/** What the step found: the statements, or what is missing before there can be any. */
type Output =
  | { database: string; ready: true; top: TopStatements }
  | { database: string; ready: false; available: boolean; preloaded: boolean | null; created: boolean };

const ORDER_WORDS: Record<StatementOrder, string> = { mean: 'mean time', total: 'total time', calls: 'calls' };

/** The steps that enable pg_stat_statements on this engine, from what is already done. */
export function enableSteps(o: Extract<Output, { ready: false }>, target: Pick<Target, 'engine'>): string[] {
  if (!o.available) {
    return [
      'The pg_stat_statements module is not installed on the server: install the contrib package (Debian/Ubuntu `postgresql-contrib` or `postgresql-<version>-contrib`, RHEL `postgresql<version>-contrib`).',
      ...enableSteps({ ...o, available: true }, target),
    ];
  }
  const steps: string[] = [];
  if (o.preloaded !== true) {
    const prefix = o.preloaded === null ? "If it is not loaded yet (the bot's role cannot read shared_preload_libraries; pg_monitor can): " : '';
    if (target.engine === 'aws-rds' || target.engine === 'aws-aurora') {
      steps.push(`${prefix}add \`pg_stat_statements\` to \`shared_preload_libraries\` in the ${target.engine === 'aws-aurora' ? 'DB cluster' : 'DB'} parameter group (keep the existing entries), then reboot the ${target.engine === 'aws-aurora' ? 'writer' : 'instance'}: it is a static parameter.`);
    } else if (target.engine === 'azure-flexible') {
      steps.push(`${prefix}add \`PG_STAT_STATEMENTS\` to the server parameter \`shared_preload_libraries\` (Server parameters in the portal, or \`az postgres flexible-server parameter set --name shared_preload_libraries\`), and to \`azure.extensions\`, then restart the server.`);
    } else {
      steps.push(`${prefix}set \`shared_preload_libraries = 'pg_stat_statements'\` in postgresql.conf (append to any existing entries, comma-separated), then restart PostgreSQL: a reload is not enough.`);
    }
  }
  if (!o.created) steps.push('In this database, as a role that may create extensions: `CREATE EXTENSION pg_stat_statements;`');
  steps.push('Statistics start from then on: run `/db slow` again after some traffic.');
  return steps;
}

export const slow = defineRunbook<Args, Record<string, never>>({
  name: 'slow',
  brief: 'Top statements from pg_stat_statements',
  summary: 'Top statements from pg_stat_statements by mean or total time or calls: calls, time, rows, cache hit %; how to enable it when missing.',
  usage: '/db slow <target> [--by mean|total|calls] [--limit 10]',
  examples: ['/db slow orders-prod', '/db slow orders-prod --by total --limit 5'],
  grammar: {
    positionals: [],
    flags: {
      by: { kind: 'string', help: 'mean (default), total or calls' },
      limit: { kind: 'string', help: 'how many statements, 1–25 (default 10)' },
    },
  },
  args,
  risk: () => 'read',
  plan: async ({ target, args: a }) => ({ summary: `Slow queries on ${target.name}`, steps: [`Read pg_stat_statements, top ${a.limit} by ${ORDER_WORDS[a.by]} (read-only)`], facts: {}, display: [] }),
  steps: [
    {
      name: 'statements',
      run: async ({ session, args: a }): Promise<Output> =>
        session(async (c) => {
          const database = (await c.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
          const av = await statementsAvailability(c);
          if (av.state === 'not-available') return { database, ready: false, available: false, preloaded: false, created: false };
          if (av.state === 'missing') return { database, ready: false, available: true, preloaded: av.preloaded, created: av.created };
          const top = await topStatements(c, av.schema, a.by, a.limit);
          if (top === 'not-preloaded') return { database, ready: false, available: true, preloaded: false, created: true };
          return { database, ready: true, top };
        }),
    },
  ],
  result: (outputs, _f, a) => {
    const o = outputs.statements as Output;
    if (!o.ready) return { headline: `pg_stat_statements is not enabled on ${o.database}`, facts: [] };
    return { headline: `Top ${o.top.statements.length} statement(s) by ${ORDER_WORDS[a.by]} on ${o.database}`, facts: [] };
  },
  report: (outputs, _f, a, target) => {
    const o = outputs.statements as Output;
    if (!o.ready) {
      return [
        {
          title: `${target.name} · pg_stat_statements is not enabled`,
          mrkdwn: `${o.created ? 'The pg_stat_statements extension exists in this database, but its library is not loaded (it is not in shared_preload_libraries).' : 'Slow-query statistics come from the pg_stat_statements extension, which this database does not have yet.'} To enable it:\n${enableSteps(o, target)
            .map((s, i) => `${i + 1}. ${s}`)
            .join('\n')}`,
        },
      ];
    }
    const { top } = o;
    if (!top.statements.length) return [{ mrkdwn: `_No statements recorded for this database yet (pg_stat_statements is enabled; statistics start after the extension was created or last reset)._` }];
    const share = (ms: number) => (top.databaseTotalMs > 0 ? ` (${((ms * 100) / top.databaseTotalMs).toFixed(1)}%)` : '');
    const lines = top.statements.map(
      (s, i) =>
        `*${i + 1}.* mean *${millis(s.meanMs)}* · total *${millis(s.totalMs)}*${share(s.totalMs)} · calls *${num(s.calls)}* · rows ${num(s.rows)} · hit ${s.hitPercent === null ? '–' : `${s.hitPercent}%`}${s.user ? ` · ${code(s.user, 40)}` : ''}\n   ${s.query === null ? `_${esc('<insufficient privilege: grant pg_read_all_stats to see other roles’ queries>')}_` : code(s.query.replace(/\s+/g, ' '), 300)}`,
    );
    const sections: ReportSection[] = chunks(lines, 5).map((part, i) => ({
      ...(i === 0 ? { title: `${target.name} · top ${top.statements.length} by ${ORDER_WORDS[a.by]} · all statements ${millis(top.databaseTotalMs)}` } : {}),
      mrkdwn: part.join('\n'),
    }));
    return sections;
  },
});
