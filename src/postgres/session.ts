import pg from 'pg';
import { DbopsError } from '../errors.js';

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
    const code = (err as { code?: string }).code;
    const timeout = /timeout/i.test(String((err as Error).message));
    if (code === '53300') {
      throw new DbopsError('target_unreachable', `${label} has no free connection slots (too many connections), so the bot cannot connect either. Reserve a slot for the bot's role (superuser_reserved_connections or a role connection limit elsewhere), or free slots from another client.`, { cause: err });
    }
    throw new DbopsError(
      timeout ? 'target_timeout' : 'target_unreachable',
      timeout
        ? `Could not reach ${label} within ${Math.round((limits.connectTimeoutMs ?? 5_000) / 1000)} s. Check that the database is up and reachable from the bot.`
        : `Could not connect to ${label}${code ? ` (${code})` : ''}. Check that the database is up and the bot's credentials are valid.`,
      { cause: err, detail: `connect to ${label} failed: ${code ?? ''} ${(err as Error).message}` },
    );
  }
  return client;
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

/** A target as sessions need it: where it is, and what to call it in messages (never the URL). */
export interface SessionTarget {
  url: string;
  name: string;
}

/** `session(fn)` bound to one target: the form runbooks' plan and steps receive. */
export function sessionFor(t: SessionTarget, limits: SessionLimits = {}): <T>(fn: (c: pg.Client) => Promise<T>) => Promise<T> {
  return (fn) => withTargetSession(t.url, fn, limits, `target ${t.name}`);
}

/** A bounded session on a target that the caller closes (long steps that need two sessions). */
export function openSessionOn(t: SessionTarget, limits: SessionLimits = {}): Promise<pg.Client> {
  return openTargetSession(t.url, limits, `target ${t.name}`);
}
