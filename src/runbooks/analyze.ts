import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { runAnalyze } from '../postgres/maintenance.js';
import { resolveRelation } from '../postgres/relation.js';
import { defineRunbook } from './runbook.js';

const args = z.object({ table: z.string().min(1).max(300, 'that table name is too long').optional() }).strict();
type Args = z.infer<typeof args>;
type Facts = { table: { oid: number; schema: string; name: string; relkind: 'r' | 'm' | 'p' } | null };

export const analyze = defineRunbook<Args, Facts>({
  name: 'analyze',
  brief: 'Refresh planner statistics',
  summary: 'ANALYZE one table, or the whole database: refreshes planner statistics.',
  usage: '/db analyze <target> [table]',
  examples: ['/db analyze orders-prod', '/db analyze orders-prod public.orders'],
  grammar: { positionals: [{ name: 'table', required: false, help: 'table name (whole database when omitted)' }], flags: {} },
  args,
  risk: () => 'change',
  plan: async ({ target, args: a, session }) => {
    // ANALYZE only reads: a catalog table is fine here (vacuum asks for --catalog).
    const rel = a.table ? await session((c) => resolveRelation(c, a.table!, { catalog: true })) : null;
    const what = rel ? `${rel.schema}.${rel.name}` : 'the whole database';
    return {
      summary: `ANALYZE ${what} on ${target.name}`,
      steps: [`Run ANALYZE on ${what}`],
      facts: { table: rel ? { oid: rel.oid, schema: rel.schema, name: rel.name, relkind: rel.relkind } : null },
      display: [{ label: 'Scope', value: what, code: !!rel }],
      impact: 'Reads a sample of each table; no locks that block reads or writes.',
    };
  },
  steps: [
    {
      name: 'analyze',
      title: 'Analyzing',
      run: async ({ openSession, facts }) => {
        const c = await openSession({ lockTimeoutMs: 10_000 });
        try {
          const t = facts.table;
          const res = await runAnalyze(c, t ? { ...t, qualified: `${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}` } : null);
          return { command: res.command, durationMs: res.durationMs, notices: res.notices.slice(0, 5) };
        } finally {
          await c.end().catch(() => undefined);
        }
      },
    },
  ],
  leftState: (_step, facts) =>
    facts.table ? 'Planner statistics of the table are as before; no data changed.' : 'Tables analyzed before the failure have fresh statistics, the rest are as before; no data changed.',
  result: (outputs, facts) => {
    const r = outputs.analyze as { command: string; durationMs: number };
    return {
      headline: `ANALYZE ${facts.table ? `${facts.table.schema}.${facts.table.name}` : 'database'} done`,
      facts: [{ label: 'Command', value: r.command, code: true }, { label: 'Duration', value: formatDuration(r.durationMs / 1000) }],
    };
  },
});
