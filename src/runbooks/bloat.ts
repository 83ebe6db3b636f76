import { z } from 'zod';
import { estimateBloat, type BloatEstimate } from '../postgres/bloat.js';
import { severity, thresholdsFor, type Severity } from '../postgres/thresholds.js';
import { deadTuples, wraparound, type DeadTuples, type Wraparound } from '../postgres/vacuum-health.js';
import { code, esc } from '../slack/blocks.js';
import { ago, bullets, bytes, flag, flagCount, num } from './report-format.js';
import { defineRunbook, type ReportSection } from './runbook.js';

const args = z.object({}).strict();
type Args = z.infer<typeof args>;

/** Severities are decided in the step (it knows the target's thresholds) and recorded with the run. */
type Output = {
  database: string;
  bloat: BloatEstimate;
  dead: DeadTuples[];
  wrap: Wraparound;
  flags: { tables: Severity[]; indexes: Severity[]; dead: Severity[]; databases: Severity[]; oldest: Severity[] };
};

const qualified = (schema: string, name: string) => code(`${schema}.${name}`, 80);

export const bloat = defineRunbook<Args, Record<string, never>>({
  name: 'bloat',
  brief: 'Bloat, dead tuples and distance to wraparound',
  summary: 'Estimated table and index bloat, tables needing VACUUM (dead tuples), transaction-id age and distance to wraparound.',
  usage: '/db bloat <target>',
  examples: ['/db bloat orders-prod'],
  grammar: { positionals: [], flags: {} },
  args,
  risk: () => 'read',
  plan: async ({ target }) => ({ summary: `Bloat and vacuum health of ${target.name}`, steps: ['Estimate bloat from statistics, read dead tuples and transaction-id ages (read-only)'], facts: {}, display: [] }),
  steps: [
    {
      name: 'health',
      run: async ({ session, target }): Promise<Output> => {
        const t = thresholdsFor(target);
        const [database, est, dead, wrap] = await session(async (c) => [
          (await c.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d,
          await estimateBloat(c, { limit: 10, ...(t.bloatBytes.warn !== undefined ? { minBytes: t.bloatBytes.warn } : {}) }),
          await deadTuples(c, 10),
          await wraparound(c, 5),
        ] as const);
        return {
          database,
          bloat: est,
          dead,
          wrap,
          flags: {
            tables: est.tables.map((x) => severity(x.bloatBytes, t.bloatBytes)),
            indexes: est.indexes.map((x) => severity(x.bloatBytes, t.bloatBytes)),
            dead: dead.map((x) => severity(x.deadPercent, t.deadTuplePercent)),
            databases: wrap.databases.map((x) => severity(Math.max(x.xidAge, x.mxidAge), t.xidAge)),
            oldest: wrap.oldestTables.map((x) => severity(x.xidAge, t.xidAge)),
          },
        };
      },
    },
  ],
  result: (outputs) => {
    const o = outputs.health as Output;
    const flagged = flagCount([...o.flags.tables, ...o.flags.indexes, ...o.flags.dead, ...o.flags.databases]);
    return { headline: `Bloat and vacuum health of ${o.database}: ${flagged || 'nothing over its threshold'}`, facts: [] };
  },
  report: (outputs, _f, _a, target) => {
    const o = outputs.health as Output;
    const w = o.wrap;
    const sections: ReportSection[] = [
      {
        title: `${target.name} · estimated table bloat`,
        mrkdwn:
          bullets(o.bloat.tables, 10, (x, i) => `• ${qualified(x.schema, x.name)} *${bytes(x.bloatBytes)}* of ${bytes(x.realBytes)} (${x.bloatPercent}%)${x.fillfactor !== 100 ? ` · fillfactor ${x.fillfactor}` : ''}${flag(o.flags.tables[i]!)}`, 'no table shows bloat (10 % or more, or over the warning size)') +
          (o.bloat.tablesWithoutStats ? `\n_${o.bloat.tablesWithoutStats} table(s) have no statistics and are not estimated: \`/db analyze ${esc(target.name)}\` first._` : ''),
      },
      {
        title: 'Estimated index bloat (btree)',
        mrkdwn: bullets(o.bloat.indexes, 10, (x, i) => `• ${qualified(x.schema, x.name)} on ${code(x.table, 60)} *${bytes(x.bloatBytes)}* of ${bytes(x.realBytes)} (${x.bloatPercent}%)${flag(o.flags.indexes[i]!)}`, 'no index shows bloat (10 % or more, or over the warning size)'),
      },
      {
        title: 'Tables needing VACUUM (most dead tuples)',
        mrkdwn: bullets(
          o.dead,
          10,
          (x, i) =>
            `• ${qualified(x.schema, x.name)} dead *${num(x.nDeadTup)}*${x.deadPercent !== null ? ` (${x.deadPercent}%)` : ''} · live ${num(x.nLiveTup)} · autovacuum ${x.autovacuumEnabled ? `at ${num(x.autovacuumAt)} dead` : '*off*'} · last vacuum ${ago(x.lastVacuum)}, autovacuum ${ago(x.lastAutovacuum)}${flag(o.flags.dead[i]!)}`,
          'no table has dead tuples',
        ),
      },
      {
        title: 'Transaction-id age (wraparound)',
        mrkdwn:
          bullets(
            w.databases,
            10,
            (d, i) => `• ${code(d.name, 60)}${d.name === o.database ? ' (this database)' : ''} xid age *${num(d.xidAge)}* (${((d.xidAge * 100) / w.limit).toFixed(1)}% of the way, ${num(w.limit - d.xidAge)} left) · multixact age ${num(d.mxidAge)}${flag(o.flags.databases[i]!)}`,
            'no databases visible',
          ) + `\n_Autovacuum forces an anti-wraparound VACUUM at autovacuum_freeze_max_age = ${num(w.freezeMaxAge)}; near ${num(w.limit)} the server stops taking writes._`,
      },
      {
        title: 'Oldest tables in this database (age of relfrozenxid)',
        mrkdwn: bullets(w.oldestTables, 5, (x, i) => `• ${qualified(x.schema, x.name)} xid age *${num(x.xidAge)}* · multixact age ${num(x.mxidAge)} · ${bytes(x.totalBytes)}${flag(o.flags.oldest[i]!)}`, 'no tables'),
      },
      {
        mrkdwn: `_Estimates come from planner statistics (as fresh as the last ANALYZE). \`/db vacuum ${esc(target.name)} <table>\` clears dead tuples for reuse; only VACUUM FULL or pg_repack gives bloat back to the disk._`,
      },
    ];
    return sections;
  },
});
