import type pg from 'pg';
import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { DbopsError } from '../errors.js';
import { backendPid, runVacuum, tableStats, vacuumProgress, type TableStats, type VacuumProgress } from '../postgres/maintenance.js';
import { resolveRelation, type ResolvedRelation } from '../postgres/relation.js';
import { defineRunbook, type Progress, type StepContext } from './runbook.js';

const args = z
  .object({
    table: z.string().min(1, 'name a table').max(300, 'that table name is too long'),
    analyze: z.boolean().default(false),
    full: z.boolean().default(false),
  })
  .strict();
type Args = z.infer<typeof args>;
type Facts = { oid: number; schema: string; name: string; relkind: 'r' | 'm' | 'p'; full: boolean; analyze: boolean };

const relOf = (f: Facts, c: pg.Client): ResolvedRelation => ({ oid: f.oid, schema: f.schema, name: f.name, relkind: f.relkind, qualified: `${c.escapeIdentifier(f.schema)}.${c.escapeIdentifier(f.name)}` });

function describe(p: VacuumProgress): Progress {
  const blocks =
    p.heapBlksTotal !== null
      ? `${p.heapBlksScanned ?? 0} of ${p.heapBlksTotal} blocks scanned${p.heapBlksVacuumed !== null ? `, ${p.heapBlksVacuumed} vacuumed` : ''}`
      : 'working';
  return { text: `${p.command}: ${p.phase ?? 'running'} — ${blocks}`, ...(p.percent !== null ? { percent: p.percent } : {}) };
}

/** Maintenance sessions die with their client (PG14+), so a crashed worker leaves no orphan VACUUM holding the lock. */
async function boundToClient(c: pg.Client): Promise<void> {
  await c.query(`SELECT set_config('client_connection_check_interval', '1000', false) WHERE current_setting('server_version_num')::int >= 140000`).catch(() => undefined);
}

/** A VACUUM of this table by an earlier attempt of ours that is still running: wait for it rather than queue behind it. */
async function waitForOrphan(poll: pg.Client, oid: number, ctx: StepContext<Args, Facts>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await poll.query<{ pid: number }>(
      `SELECT a.pid FROM pg_stat_activity a
        WHERE a.application_name = 'dbops' AND a.pid <> pg_backend_pid() AND a.state = 'active'
          AND (EXISTS (SELECT 1 FROM pg_stat_progress_vacuum v WHERE v.pid = a.pid AND v.relid = $1)
               OR EXISTS (SELECT 1 FROM pg_stat_progress_cluster k WHERE k.pid = a.pid AND k.relid = $1))`,
      [oid],
    );
    const pid = r.rows[0]?.pid;
    if (!pid) return;
    const p = await vacuumProgress(poll, pid);
    ctx.progress(p ? { ...describe(p), text: `earlier attempt still running — ${describe(p).text}` } : { text: 'waiting for an earlier attempt to finish' });
    await new Promise((res) => setTimeout(res, 1000));
  }
}

const statsFacts = (before: TableStats, after: TableStats) => [
  { label: 'Dead tuples', value: `${before.nDeadTup} → ${after.nDeadTup}` },
  { label: 'Live tuples', value: String(after.nLiveTup) },
  { label: 'Pages', value: `${before.relpages} → ${after.relpages} (${Math.max(0, before.relpages - after.relpages)} removed)` },
  { label: 'Size', value: `${before.sizePretty} → ${after.sizePretty}` },
];

export const vacuum = defineRunbook<Args, Facts>({
  name: 'vacuum',
  summary: 'VACUUM one table, with live progress. --full rewrites it under an ACCESS EXCLUSIVE lock and needs approval.',
  usage: '/db vacuum <target> <table> [--analyze] [--full]',
  examples: ['/db vacuum orders-prod public.orders --analyze', '/db vacuum orders-prod "Mixed Case"', '/db vacuum orders-prod orders --full --reason "bloat after backfill"'],
  grammar: {
    positionals: [{ name: 'table', required: true, help: 'table name; schema-qualify (sales.orders) or quote ("Mixed Case") as in SQL' }],
    flags: {
      analyze: { kind: 'bool', help: 'also ANALYZE (refresh planner statistics)' },
      full: { kind: 'bool', help: 'VACUUM FULL: rewrites the table, blocks all access while it runs (destructive)' },
    },
  },
  args,
  risk: (a) => (a.full ? 'destructive' : 'change'),
  plan: async ({ target, args: a, session }) => {
    const { rel, stats } = await session(async (c) => {
      const r = await resolveRelation(c, a.table);
      return { rel: r, stats: await tableStats(c, r.oid) };
    });
    const opts = [a.full ? 'FULL' : null, a.analyze ? 'ANALYZE' : null].filter(Boolean).join(', ');
    const command = `VACUUM ${opts ? `(${opts}) ` : ''}${rel.qualified}`;
    return {
      summary: `${a.full ? 'VACUUM FULL' : 'VACUUM'}${a.analyze ? ' ANALYZE' : ''} ${rel.schema}.${rel.name} on ${target.name}`,
      steps: ['Measure the table (dead tuples, pages, size)', `Run ${command} (statement_timeout lifted, lock_timeout kept)`, 'Measure again and report'],
      facts: { oid: rel.oid, schema: rel.schema, name: rel.name, relkind: rel.relkind, full: a.full, analyze: a.analyze },
      display: [
        { label: 'Table', value: `${rel.schema}.${rel.name}`, code: true },
        { label: 'Command', value: command, code: true },
        { label: 'Dead tuples now', value: String(stats.nDeadTup) },
        { label: 'Size', value: stats.sizePretty },
      ],
      impact: a.full ? `ACCESS EXCLUSIVE lock on ${rel.schema}.${rel.name}: all reads and writes to it wait until the rewrite finishes; needs free disk about the table's size.` : 'Extra I/O while it runs; reads and writes continue.',
      etaSeconds: Math.max(5, Math.round(stats.sizeBytes / (a.full ? 50e6 : 150e6))),
    };
  },
  steps: [
    { name: 'before', title: 'Measuring the table', run: async ({ session, facts }) => ({ stats: await session((c) => tableStats(c, facts.oid)) }) },
    {
      name: 'vacuum',
      title: 'Vacuuming',
      run: async (ctx) => {
        const work = await ctx.openSession({ lockTimeoutMs: 10_000 });
        const poll = await ctx.openSession({ statementTimeoutMs: 5_000 });
        try {
          await boundToClient(work);
          await waitForOrphan(poll, ctx.facts.oid, ctx);
          const pid = await backendPid(work);
          let done = false;
          // Settled into a value right away: a rejection while we poll must not go unhandled (it would crash the worker).
          const running = runVacuum(work, relOf(ctx.facts, work), { full: ctx.facts.full, analyze: ctx.facts.analyze }).then(
            (r) => ({ ok: true as const, r }),
            (e: unknown) => ({ ok: false as const, e }),
          );
          void running.then(() => (done = true));
          // Each poll is its own autocommit statement: progress views are snapshotted per transaction.
          while (!done) {
            await new Promise((r) => setTimeout(r, 500));
            if (done) break;
            if (ctx.signal.aborted) {
              // Shutdown grace is over: cancel our own VACUUM (it keeps no partial state worth waiting
              // for) so the worker can hand the run back; the next worker runs this step again.
              await poll.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
              await running;
              throw new Error('interrupted by shutdown');
            }
            const p = await vacuumProgress(poll, pid).catch(() => null);
            if (p) ctx.progress(describe(p));
          }
          const settled = await running;
          if (!settled.ok) throw settled.e;
          const res = settled.r;
          const skipped = res.notices.find((n) => /skipping|permission/i.test(n));
          if (skipped) throw new DbopsError('provider', `PostgreSQL skipped the table: ${skipped}. The bot's role needs to own the table (or be superuser) to vacuum it.`);
          ctx.progress({ text: `${ctx.facts.full ? 'VACUUM FULL' : 'VACUUM'} finished in ${formatDuration(res.durationMs / 1000)}`, percent: 100 });
          return { command: res.command, durationMs: res.durationMs };
        } finally {
          await work.end().catch(() => undefined);
          await poll.end().catch(() => undefined);
        }
      },
    },
    { name: 'after', title: 'Measuring again', run: async ({ session, facts }) => ({ stats: await session((c) => tableStats(c, facts.oid)) }) },
  ],
  leftState: (step, facts) =>
    step === 'vacuum'
      ? facts.full
        ? 'VACUUM FULL rolls back as a whole: the table is exactly as before and its lock is released. Free disk it needed was not kept.'
        : 'Plain VACUUM changes no data: the table is intact; dead tuples it had not reached yet are still there. It is safe to run again.'
      : 'Nothing was changed: only measurements had run.',
  result: (outputs, facts) => {
    const before = (outputs.before as { stats: TableStats }).stats;
    const after = (outputs.after as { stats: TableStats }).stats;
    const v = outputs.vacuum as { command: string; durationMs: number };
    return {
      headline: `${facts.full ? 'VACUUM FULL' : 'VACUUM'} ${facts.schema}.${facts.name}: dead tuples ${before.nDeadTup} → ${after.nDeadTup}`,
      facts: [{ label: 'Command', value: v.command, code: true }, { label: 'Duration', value: formatDuration(v.durationMs / 1000) }, ...statsFacts(before, after)],
    };
  },
});
