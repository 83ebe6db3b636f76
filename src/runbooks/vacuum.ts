import type pg from 'pg';
import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { DbopsError } from '../errors.js';
import { horizonHolders } from '../postgres/horizon.js';
import { relationLockHolders } from '../postgres/lock-holders.js';
import { backendPid, runVacuum, tableStats, vacuumProgress, type TableStats, type VacuumProgress, type VacuumTupleCounts } from '../postgres/maintenance.js';
import { resolveRelation, type ResolvedRelation } from '../postgres/relation.js';
import { sqlState } from '../postgres/sql.js';
import { defineRunbook, type Progress, type StepContext } from './runbook.js';
import { describeHolders, lockConflictError, vacuumResult } from './vacuum-report.js';

/** How long VACUUM waits for its table lock before giving up: long enough for short transactions, short enough not to stall everyone queued behind it. */
const DEFAULT_LOCK_TIMEOUT_S = 10;

const args = z
  .object({
    table: z.string().min(1, 'name a table').max(300, 'that table name is too long'),
    analyze: z.boolean().default(false),
    full: z.boolean().default(false),
    catalog: z.boolean().default(false),
    'lock-timeout': z.number().int().min(1, 'lock timeout is at least 1s').max(300, 'lock timeout is at most 5m: everyone queues behind a waiting VACUUM').default(DEFAULT_LOCK_TIMEOUT_S),
  })
  .strict();
type Args = z.infer<typeof args>;
/** lockTimeoutMs is optional only for runs planned before it existed (they used the default). */
type Facts = { oid: number; schema: string; name: string; relkind: 'r' | 'm' | 'p'; full: boolean; analyze: boolean; lockTimeoutMs?: number };
const lockTimeoutOf = (f: Facts) => f.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_S * 1000;


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
          -- progress views are cluster-wide and a relid is only unique within its database
          AND a.datname = current_database()
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

/** A lock_timeout failure, with who held the table at that moment (read on the poll session). */
async function explainFailure(err: unknown, poll: pg.Client, ctx: StepContext<Args, Facts>): Promise<unknown> {
  const cause = (err as { cause?: unknown }).cause ?? err;
  if (sqlState(cause) !== '55P03') return err;
  const wanted = ctx.facts.full ? 'AccessExclusiveLock' : 'ShareUpdateExclusiveLock';
  const holders = await relationLockHolders(poll, ctx.facts.oid, wanted).catch(() => []);
  return lockConflictError(ctx.target, `${ctx.facts.schema}.${ctx.facts.name}`, lockTimeoutOf(ctx.facts), holders, cause);
}

export const vacuum = defineRunbook<Args, Facts>({
  name: 'vacuum',
  brief: 'VACUUM one table with live progress (--full needs approval)',
  summary: 'VACUUM one table, with live progress. --full rewrites it under an ACCESS EXCLUSIVE lock and needs approval.',
  usage: '/db vacuum <target> <table> [--analyze] [--full]',
  examples: ['/db vacuum orders-prod public.orders --analyze', '/db vacuum orders-prod "Mixed Case"', '/db vacuum orders-prod orders --full --reason "bloat after backfill"'],
  grammar: {
    positionals: [{ name: 'table', required: true, help: 'table name; schema-qualify (sales.orders) or quote ("Mixed Case") as in SQL' }],
    flags: {
      'lock-timeout': { kind: 'duration', help: `how long to wait for the table lock before giving up, changing nothing (default ${DEFAULT_LOCK_TIMEOUT_S}s, at most 5m)` },
      analyze: { kind: 'bool', help: 'also ANALYZE (refresh planner statistics)' },
      full: { kind: 'bool', help: 'VACUUM FULL: rewrites the table, blocks all access while it runs (destructive)' },
      catalog: { kind: 'bool', help: 'allow a system catalog table (pg_catalog, information_schema, pg_toast)' },
    },
  },
  args,
  risk: (a) => (a.full ? 'destructive' : 'change'),
  plan: async ({ target, args: a, session }) => {
    const { rel, stats } = await session(async (c) => {
      const r = await resolveRelation(c, a.table, { catalog: a.catalog });
      return { rel: r, stats: await tableStats(c, r.oid) };
    });
    const opts = [a.full ? 'FULL' : null, a.analyze ? 'ANALYZE' : null].filter(Boolean).join(', ');
    const command = `VACUUM ${opts ? `(${opts}) ` : ''}${rel.qualified}`;
    return {
      summary: `${a.full ? 'VACUUM FULL' : 'VACUUM'}${a.analyze ? ' ANALYZE' : ''} ${rel.schema}.${rel.name} on ${target.name}`,
      steps: [
        'Measure the table (dead tuples, pages, size)',
        `Run ${command} (statement_timeout lifted; lock_timeout ${formatDuration(a['lock-timeout'])}: if the lock is not granted by then it gives up and changes nothing)`,
        'Measure again, and if dead tuples could not be removed, find what holds the xmin horizon',
      ],
      facts: { oid: rel.oid, schema: rel.schema, name: rel.name, relkind: rel.relkind, full: a.full, analyze: a.analyze, lockTimeoutMs: a['lock-timeout'] * 1000 },
      display: [
        { label: 'Table', value: `${rel.schema}.${rel.name}`, code: true },
        { label: 'Command', value: command, code: true },
        { label: 'Lock timeout', value: `${formatDuration(a['lock-timeout'])} (gives up, changing nothing, if the table stays locked)` },
        { label: 'Dead tuples at request (est.)', value: `≈${stats.nDeadTup}` },
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
        const work = await ctx.openSession({ lockTimeoutMs: lockTimeoutOf(ctx.facts) });
        const poll = await ctx.openSession({ statementTimeoutMs: 5_000 });
        try {
          await boundToClient(work);
          await waitForOrphan(poll, ctx.facts.oid, ctx);
          const pid = await backendPid(work);
          let done = false;
          // Settled into a value right away: a rejection while we poll must not go unhandled (it would crash the worker).
          // VERBOSE: its own count of removed / not-yet-removable tuples (FULL never updates n_dead_tup).
          const running = runVacuum(work, relOf(ctx.facts, work), { full: ctx.facts.full, analyze: ctx.facts.analyze, verbose: true }).then(
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
          if (!settled.ok) throw await explainFailure(settled.e, poll, ctx);
          const res = settled.r;
          const skipped = res.notices.find((n) => /skipping|permission/i.test(n));
          if (skipped) throw new DbopsError('provider', `PostgreSQL skipped the table: ${skipped}. The bot's role needs to own the table (or be superuser) to vacuum it.`);
          ctx.progress({ text: `${ctx.facts.full ? 'VACUUM FULL' : 'VACUUM'} finished in ${formatDuration(res.durationMs / 1000)}`, percent: 100 });
          return { command: res.command, durationMs: res.durationMs, tuples: res.tuples ?? null };
        } finally {
          await work.end().catch(() => undefined);
          await poll.end().catch(() => undefined);
        }
      },
    },
    {
      name: 'after',
      title: 'Measuring again',
      // The horizon is read now, while whatever pinned the dead tuples most likely still holds it;
      // described here because only steps know the target (the command to end each holder).
      run: async ({ session, facts, target }) =>
        session(async (c) => ({ stats: await tableStats(c, facts.oid), holders: describeHolders(target, await horizonHolders(c)) })),
    },
  ],
  leftState: (step, facts) =>
    step === 'vacuum'
      ? facts.full
        ? 'VACUUM FULL rolls back as a whole: the table is exactly as before and its lock is released. Free disk it needed was not kept.'
        : 'Plain VACUUM changes no data: the table is intact; dead tuples it had not reached yet are still there. It is safe to run again.'
      : 'Nothing was changed: only measurements had run.',
  result: (outputs, facts) => {
    const before = (outputs.before as { stats: TableStats }).stats;
    const after = outputs.after as { stats: TableStats; holders?: string[] };
    const v = outputs.vacuum as { command: string; durationMs: number; tuples?: VacuumTupleCounts | null };
    return vacuumResult(`${facts.schema}.${facts.name}`, v.command, v.durationMs, { before, after: after.stats, full: facts.full, tuples: v.tuples ?? null, holders: after.holders ?? [] });
  },
});
