import type pg from 'pg';
import { DbopsError } from '../errors.js';
import type { ResolvedRelation } from './relation.js';
import { sqlState } from './sql.js';
import { parseVacuumVerbose, type VacuumTupleCounts } from './vacuum-verbose.js';

export interface VacuumOptions {
  /** VACUUM (ANALYZE) */
  analyze?: boolean;
  /** VACUUM (FULL): rewrites the table under an ACCESS EXCLUSIVE lock */
  full?: boolean;
  /** VACUUM (VERBOSE): its INFO report lands in `verbose` and its counts in `tuples` */
  verbose?: boolean;
}

export interface MaintenanceResult {
  /** the exact statement run (names quoted from the catalog) */
  command: string;
  durationMs: number;
  /**
   * Server WARNING/NOTICE lines raised by the command. A role that may not vacuum a table gets a
   * WARNING ("skipping …"), not an error, so callers must look here before reporting success.
   */
  notices: string[];
  /** INFO lines (VERBOSE's report), message and detail joined */
  verbose: string[];
  /** what VACUUM VERBOSE says it removed and had to keep; null without VERBOSE */
  tuples?: VacuumTupleCounts | null;
}

/** The session's backend pid: progress for a command running here is polled from another session by it. */
export async function backendPid(client: pg.Client): Promise<number> {
  const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return r.rows[0]!.pid;
}

/**
 * VACUUM one table. The name is re-read from the catalog by oid right before running (a rename since
 * resolveRelation cannot redirect the command), statement_timeout is lifted for the command only
 * (vacuum legitimately runs long) and restored after; lock_timeout stays, so a table busy with
 * conflicting locks fails fast instead of queueing behind them (and queueing everyone else behind us).
 */
export async function runVacuum(client: pg.Client, rel: ResolvedRelation, opts: VacuumOptions = {}): Promise<MaintenanceResult> {
  const qualified = await currentName(client, rel);
  const flags = [opts.full ? 'FULL' : null, opts.analyze ? 'ANALYZE' : null, opts.verbose ? 'VERBOSE' : null].filter((f): f is string => f !== null);
  const command = `VACUUM ${flags.length ? `(${flags.join(', ')}) ` : ''}${qualified}`;
  const res = await runUnbounded(client, command, qualified);
  return opts.verbose ? { ...res, tuples: parseVacuumVerbose(res.verbose) } : res;
}

/** ANALYZE one table, or the whole database when rel is null. */
export async function runAnalyze(client: pg.Client, rel: ResolvedRelation | null): Promise<MaintenanceResult> {
  const qualified = rel ? await currentName(client, rel) : null;
  return runUnbounded(client, qualified ? `ANALYZE ${qualified}` : 'ANALYZE', qualified ?? 'the database');
}

async function currentName(client: pg.Client, rel: ResolvedRelation): Promise<string> {
  const r = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = $1 AND c.relkind IN ('r', 'm', 'p')`,
    [rel.oid],
  );
  const row = r.rows[0];
  if (!row) throw new DbopsError('not_found', `Table ${rel.schema}.${rel.name} no longer exists; nothing was run.`);
  return `${client.escapeIdentifier(row.schema)}.${client.escapeIdentifier(row.name)}`;
}

async function runUnbounded(client: pg.Client, command: string, what: string): Promise<MaintenanceResult> {
  const prev = (await client.query<{ v: string }>(`SELECT current_setting('statement_timeout') AS v`)).rows[0]!.v;
  await client.query('SET statement_timeout = 0');
  const notices: string[] = [];
  const verbose: string[] = [];
  // INFO is VERBOSE's report; WARNING/NOTICE are what callers must check (e.g. "skipping …").
  const onNotice = (n: { message?: string; detail?: string; severity?: string }) => {
    if (!n.message) return;
    if (n.severity === 'INFO') verbose.push(n.detail ? `${n.message}\n${n.detail}` : n.message);
    else notices.push(n.message);
  };
  client.on('notice', onNotice);
  const started = Date.now();
  try {
    // Simple-protocol, autocommit: VACUUM refuses to run inside a transaction block.
    await client.query(command);
    return { command, durationMs: Date.now() - started, notices, verbose };
  } catch (err) {
    throw mapError(err, what);
  } finally {
    client.off('notice', onNotice);
    await client.query(`SELECT set_config('statement_timeout', $1, false)`, [prev]).catch(() => undefined);
  }
}

function mapError(err: unknown, what: string): unknown {
  switch (sqlState(err)) {
    case '55P03':
      return new DbopsError('conflict', `Could not lock ${what} within lock_timeout: another session holds a conflicting lock. Check \`/db locks\` and try again.`, { cause: err });
    case '57014':
      return new DbopsError('target_timeout', `The command on ${what} was cancelled before it finished; nothing more will run.`, { cause: err });
    default:
      return err;
  }
}

export { vacuumProgress, type VacuumProgress } from './progress.js';
export { tableStats, type TableStats } from './table-stats.js';
export type { VacuumTupleCounts } from './vacuum-verbose.js';
