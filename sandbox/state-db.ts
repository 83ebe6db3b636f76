// The bot's state database in the sandbox. The fake Slack keeps its messages in memory, so after a
// restart the page is empty; runs and audit rows left in the state database would then show up in
// `/db runs` with no thread to open. So each start begins clean, and when it cannot (the database is
// not the sandbox's own, or something is still connected to it) the page says what it keeps.
import pg from 'pg';
import { databaseName, SANDBOX_APP, withDatabase } from './demo-db.js';

/** Only databases the sandbox names itself are ever dropped; a DATABASE_URL chosen by hand is kept. */
export const SANDBOX_STATE_DB = /^dbops_sandbox(_[a-z0-9_]+)?$/;

export interface StateHistory {
  database: string;
  /** true: dropped before the bot started (it recreates it empty). */
  fresh: boolean;
  /** Runs already recorded when the sandbox started (0 when fresh). */
  earlierRuns: number;
  /** Why it was kept, for the page and the terminal. */
  keptBecause?: string;
}

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: SANDBOX_APP, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Runs recorded in the state database, 0 when it or its tables do not exist yet. */
async function countRuns(url: string): Promise<number> {
  try {
    return await withAdmin(url, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM runs')).rows[0]?.n ?? 0));
  } catch {
    return 0;
  }
}

/**
 * Drops the sandbox's own state database (never with FORCE: a database something still uses, such
 * as another running sandbox, is kept and reported instead), or reports the history it keeps.
 */
export async function prepareStateDatabase(url: string, o: { fresh: boolean }): Promise<StateHistory> {
  const database = databaseName(url);
  let keptBecause: string | undefined;
  if (!o.fresh) keptBecause = 'SANDBOX_KEEP_STATE is set';
  else if (!SANDBOX_STATE_DB.test(database)) keptBecause = 'DATABASE_URL names a database the sandbox did not create';
  else {
    try {
      await withAdmin(withDatabase(url, 'postgres'), (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)}`));
      return { database, fresh: true, earlierRuns: 0 };
    } catch (err) {
      if ((err as { code?: string }).code !== '55006') throw err;
      keptBecause = 'another session is still connected to it';
    }
  }
  return { database, fresh: false, earlierRuns: await countRuns(url), keptBecause };
}

/** One line for the terminal and the page; undefined when there is nothing to say (fresh or empty). */
export function historyNote(h: StateHistory): string | undefined {
  if (h.fresh || h.earlierRuns === 0) return undefined;
  return `State database ${h.database} was kept (${h.keptBecause}): ${h.earlierRuns} run(s) from earlier sessions are in /db runs and the audit log, but their messages are not on this page.`;
}
