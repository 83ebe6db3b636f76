import pg from 'pg';
import { DbopsError } from '../errors.js';
import { BusyError, POOL_LOCK_TIMEOUT_MS, POOL_STATEMENT_TIMEOUT_MS, poolFor, type SessionUse } from './pool.js';

/** Bounds for every session the bot opens on a target database. */
export interface SessionLimits {
  /** ms; default 15000 */
  statementTimeoutMs?: number;
  /** ms; default 5000 */
  lockTimeoutMs?: number;
  /** ms; default 5000 */
  connectTimeoutMs?: number;
}

export const BOT_APPLICATION_NAME = 'dbops';

/**
 * Opens one bounded session on a target: application_name=dbops, statement_timeout and lock_timeout
 * set at connect time (startup options), so even the first query is bounded.
 * Connection errors are mapped to a typed error that never includes the URL.
 */
export async function openTargetSession(url: string, limits: SessionLimits = {}, label = 'target'): Promise<pg.Client> {
  const statementTimeout = limits.statementTimeoutMs ?? 15_000;
  const lockTimeout = limits.lockTimeoutMs ?? 5_000;
  const client = new pg.Client({
    connectionString: url,
    application_name: BOT_APPLICATION_NAME,
    connectionTimeoutMillis: limits.connectTimeoutMs ?? 5_000,
    options: `-c statement_timeout=${statementTimeout} -c lock_timeout=${lockTimeout}`,
  });
  // An idle client whose server goes away emits 'error'; without a listener Node would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectError(err, label, limits.connectTimeoutMs ?? 5_000);
  }
  return client;
}

/** A connect failure as users see it: typed, with what to do, never the URL or password. */
function connectError(err: unknown, label: string, connectTimeoutMs: number): DbopsError {
  const code = (err as { code?: string }).code;
  const timeout = /timeout/i.test(String((err as Error).message));
  if (code === '53300') {
    return new DbopsError('target_unreachable', `${label} has no free connection slots (too many connections), so the bot cannot connect either. Reserve a slot for the bot's role (superuser_reserved_connections or a role connection limit elsewhere), or free slots from another client.`, { cause: err });
  }
  return new DbopsError(
    timeout ? 'target_timeout' : 'target_unreachable',
    timeout
      ? `Could not reach ${label} within ${Math.round(connectTimeoutMs / 1000)} s. Check that the database is up and reachable from the bot.`
      : `Could not connect to ${label}${code ? ` (${code})` : ''}. Check that the database is up and the bot's credentials are valid.`,
    { cause: err, detail: `connect to ${label} failed: ${code ?? ''} ${(err as Error).message}` },
  );
}

/** Runs fn with a fresh bounded session and always closes it. */
export async function withTargetSession<T>(url: string, fn: (c: pg.Client) => Promise<T>, limits?: SessionLimits, label?: string): Promise<T> {
  const client = await openTargetSession(url, limits, label);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A target as sessions need it: where it is, what to call it in messages (never the URL), its pool size. */
export interface SessionTarget {
  url: string;
  name: string;
  /** Sessions this bot process may hold on the target at once (targets file); default 3. */
  maxBotSessions?: number;
}

/** Per-use bounds, plus who is asking: request-time reads queue behind run steps (see pool.ts). */
export interface PooledLimits extends SessionLimits {
  use?: SessionUse;
}

export const DEFAULT_MAX_BOT_SESSIONS = 3;

/**
 * Checks a session out of the target's pool, bounded as asked. Pooled sessions start with the
 * default limits (startup options, so the first query is bounded); other limits are SET here and
 * everything a user of the session changed is RESET when it goes back. A session left inside a
 * transaction, or one that failed, is closed instead of reused.
 */
async function checkout(t: SessionTarget, limits: PooledLimits): Promise<pg.PoolClient> {
  const label = `target ${t.name}`;
  const pool = poolFor(t.url, t.maxBotSessions ?? DEFAULT_MAX_BOT_SESSIONS, BOT_APPLICATION_NAME);
  const use = limits.use ?? 'step';
  let giveBack: () => void;
  try {
    giveBack = await pool.acquire(use);
  } catch (err) {
    if (!(err instanceof BusyError)) throw err;
    throw new DbopsError(
      'target_busy',
      use === 'read'
        ? `${label} is busy: the bot's ${pool.max} sessions on it are all in use. Try again in a few seconds.`
        : `${label} is busy: the bot's ${pool.max} sessions on it were all held by running steps for ${Math.round(pool.stepStallMs / 1000)} s. Nothing more was started; run it again, or raise maxBotSessions for this target.`,
      { cause: err },
    );
  }
  let client: pg.PoolClient;
  try {
    client = await pool.pool.connect();
  } catch (err) {
    giveBack();
    throw connectError(err, label, 5_000);
  }
  const st = limits.statementTimeoutMs ?? POOL_STATEMENT_TIMEOUT_MS;
  const lt = limits.lockTimeoutMs ?? POOL_LOCK_TIMEOUT_MS;
  if (st !== POOL_STATEMENT_TIMEOUT_MS || lt !== POOL_LOCK_TIMEOUT_MS) {
    try {
      await client.query(`SET statement_timeout = ${Math.trunc(st)}; SET lock_timeout = ${Math.trunc(lt)}`);
    } catch (err) {
      client.release(err as Error);
      giveBack();
      throw err;
    }
  }
  const release = async (): Promise<void> => {
    client.removeAllListeners('notice');
    let broken: Error | undefined;
    if (client.getTransactionStatus() !== 'I') broken = new Error('session returned inside a transaction');
    else await client.query('RESET ALL').catch((e: Error) => (broken = e));
    client.release(broken);
    giveBack();
  };
  return Object.assign(client, { releasePooled: release });
}

type Pooled = pg.PoolClient & { releasePooled: () => Promise<void> };

/** `session(fn)` bound to one target: the form runbooks' plan and steps receive. */
export function sessionFor(t: SessionTarget, limits: PooledLimits = {}): <T>(fn: (c: pg.Client) => Promise<T>) => Promise<T> {
  return async (fn) => {
    const c = (await checkout(t, limits)) as Pooled;
    try {
      return await fn(c as unknown as pg.Client);
    } finally {
      await c.releasePooled();
    }
  };
}

/**
 * A pooled session on a target for long steps that need two (VACUUM: work + progress poll); it
 * counts against the target's pool with step priority. `end()` gives it back to the pool.
 */
export async function openSessionOn(t: SessionTarget, limits: PooledLimits = {}): Promise<pg.Client> {
  const c = (await checkout(t, { ...limits, use: limits.use ?? 'step' })) as Pooled;
  // end() gives the session back, once: the shadow is removed on the first call, because pg.Pool
  // closes sessions through the prototype's end(). Call it exactly once (runbooks do, in finally).
  Object.defineProperty(c, 'end', {
    configurable: true,
    writable: true,
    value: () => {
      delete (c as { end?: unknown }).end;
      return c.releasePooled();
    },
  });
  return c as unknown as pg.Client;
}
