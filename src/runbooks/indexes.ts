import { z } from 'zod';
import { duplicateIndexes, MISSING_INDEX_RULE, missingIndexCandidates, statsSince, unusedIndexes, type DuplicateSet, type MissingIndexCandidate, type UnusedIndex } from '../postgres/indexes.js';
import { code } from '../slack/blocks.js';
import { ago, bullets, bytes, chunks, num } from './report-format.js';
import { defineRunbook, type ReportSection } from './runbook.js';

const args = z.object({ unused: z.boolean().optional(), duplicate: z.boolean().optional(), missing: z.boolean().optional() }).strict();
type Args = z.infer<typeof args>;
type Kind = 'unused' | 'duplicate' | 'missing';

type Output = {
  database: string;
  statsSince: string | null;
  unused?: UnusedIndex[];
  duplicate?: DuplicateSet[];
  missing?: MissingIndexCandidate[];
};

/** No flag: all three lists; one or more flags: those. */
const kinds = (a: Args): Kind[] => {
  const picked = (['unused', 'duplicate', 'missing'] as const).filter((k) => a[k]);
  return picked.length ? picked : ['unused', 'duplicate', 'missing'];
};

const qualified = (schema: string, name: string) => code(`${schema}.${name}`, 80);

function unusedSection(xs: UnusedIndex[], since: string): ReportSection[] {
  const lines = xs.map((x) => `• ${qualified(x.schema, x.name)} on ${code(x.table, 60)} *${bytes(x.bytes)}*\n   ${code(x.definition, 200)}`);
  const head = `Unused indexes (0 scans ${since}; unique and constraint indexes left out)`;
  if (!lines.length) return [{ title: head, mrkdwn: '_none_' }];
  const parts = chunks(lines, 8).map((p, i) => ({ ...(i === 0 ? { title: head } : {}), mrkdwn: p.join('\n') }));
  parts[parts.length - 1]!.mrkdwn += '\n_Scans on replicas are not counted here: check them before `DROP INDEX CONCURRENTLY`._';
  return parts;
}

function duplicateSection(sets: DuplicateSet[]): ReportSection {
  const role = (x: DuplicateSet['indexes'][number]) => (x.primary ? 'primary key' : x.constraint ? 'constraint' : x.unique ? 'unique' : `${num(x.scans)} scans`);
  return {
    title: 'Duplicate indexes (same columns, operator classes, expressions and predicate)',
    mrkdwn: bullets(
      sets,
      10,
      (s) => {
        const [keep, ...dups] = s.indexes;
        return `• on ${qualified(s.schema, s.table)}: keep ${code(keep!.name, 60)} (${role(keep!)}, ${bytes(keep!.bytes)}); ${dups.map((d) => `${code(d.name, 60)} (${role(d)}, ${bytes(d.bytes)})`).join(', ')} duplicate${dups.length === 1 ? 's' : ''} it\n   ${code(keep!.definition, 200)}`;
      },
      'none',
    ),
  };
}

function missingSection(xs: MissingIndexCandidate[]): ReportSection {
  return {
    title: `Missing index candidates (≥ ${MISSING_INDEX_RULE.minSeqScans} sequential scans, more than index scans, ≥ ${num(MISSING_INDEX_RULE.minRows)} rows)`,
    mrkdwn:
      bullets(
        xs,
        10,
        (x) => `• ${qualified(x.schema, x.table)} seq scans *${num(x.seqScans)}* vs index scans ${num(x.idxScans)} · ${num(x.seqRowsRead)} rows read sequentially (~${num(x.seqRowsRead / Math.max(1, x.seqScans))} per scan) · ~${num(x.liveRows)} rows, ${bytes(x.bytes)}`,
        'none',
      ) + (xs.length ? '\n_Find the queries behind them with `/db slow` and EXPLAIN, then `CREATE INDEX CONCURRENTLY`._' : ''),
  };
}

export const indexes = defineRunbook<Args, Record<string, never>>({
  name: 'indexes',
  brief: 'Unused, duplicate and missing indexes',
  summary: 'Unused indexes (never scanned), duplicate indexes, and tables that look like they miss one (sequential scans on large tables).',
  usage: '/db indexes <target> [--unused|--duplicate|--missing]',
  examples: ['/db indexes orders-prod', '/db indexes orders-prod --unused'],
  grammar: {
    positionals: [],
    flags: {
      unused: { kind: 'bool', help: 'only indexes never scanned' },
      duplicate: { kind: 'bool', help: 'only duplicate indexes' },
      missing: { kind: 'bool', help: 'only tables read by sequential scans' },
    },
  },
  args,
  risk: () => 'read',
  plan: async ({ target, args: a }) => ({ summary: `Indexes on ${target.name}`, steps: [`Read ${kinds(a).join(', ')} indexes from the statistics (read-only)`], facts: {}, display: [] }),
  steps: [
    {
      name: 'indexes',
      run: async ({ session, args: a }): Promise<Output> =>
        session(async (c) => {
          const k = kinds(a);
          const out: Output = {
            database: (await c.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d,
            statsSince: await statsSince(c),
          };
          if (k.includes('unused')) out.unused = await unusedIndexes(c);
          if (k.includes('duplicate')) out.duplicate = await duplicateIndexes(c);
          if (k.includes('missing')) out.missing = await missingIndexCandidates(c);
          return out;
        }),
    },
  ],
  result: (outputs) => {
    const o = outputs.indexes as Output;
    const parts = [
      o.unused && `${o.unused.length} unused`,
      o.duplicate && `${o.duplicate.length} duplicate set(s)`,
      o.missing && `${o.missing.length} missing-index candidate(s)`,
    ].filter(Boolean);
    return { headline: `Indexes on ${o.database}: ${parts.join(', ')}`, facts: [] };
  },
  report: (outputs, _f, _a, target) => {
    const o = outputs.indexes as Output;
    const since = o.statsSince ? `since the statistics reset ${ago(o.statsSince)}` : 'since the statistics began';
    const sections: ReportSection[] = [{ title: `${target.name} · index health`, mrkdwn: `_Scan counters ${since}, on this server only._` }];
    if (o.unused) sections.push(...unusedSection(o.unused, since));
    if (o.duplicate) sections.push(duplicateSection(o.duplicate));
    if (o.missing) sections.push(missingSection(o.missing));
    return sections;
  },
});
