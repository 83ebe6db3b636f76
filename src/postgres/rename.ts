/**
 * Database-level administration for restores and cutovers: which databases exist and whose they are
 * (a COMMENT marks what dbops created), connection blocking, renames. Every name is quoted with the
 * driver's escapeIdentifier and every value bound; callers hold a session on ANOTHER database of the
 * server (renaming or dropping the database you are connected to is impossible).
 */
import type pg from 'pg';
import { BOT_APPLICATION_NAME } from './session.js';

/** The target's URL pointed at another database of the same server (same host, role and password). */
export function onDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The database a connection URL names (what the target's applications use). */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Where the bot administers from: the server's `postgres` database unless the target itself is it. */
export function maintenanceDatabase(targetDb: string): string {
  return targetDb === 'postgres' ? 'template1' : 'postgres';
}

export interface DatabaseInfo {
  name: string;
  comment: string | null;
  allowConnections: boolean;
  connectionLimit: number;
}

export async function databaseInfo(c: pg.Client, name: string): Promise<DatabaseInfo | undefined> {
  const r = await c.query<DatabaseInfo>(
    `SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment, d.datallowconn AS "allowConnections", d.datconnlimit AS "connectionLimit"
       FROM pg_database d WHERE d.datname = $1`,
    [name],
  );
  return r.rows[0];
}

/** Databases whose comment is exactly `comment` or starts with `prefix` (dbops' markers). */
export async function databasesMarked(c: pg.Client, prefix: string): Promise<DatabaseInfo[]> {
  const r = await c.query<DatabaseInfo>(
    `SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment, d.datallowconn AS "allowConnections", d.datconnlimit AS "connectionLimit"
       FROM pg_database d WHERE starts_with(coalesce(shobj_description(d.oid, 'pg_database'), ''), $1) ORDER BY d.datname`,
    [prefix],
  );
  return r.rows;
}

export async function setComment(c: pg.Client, db: string, comment: string | null): Promise<void> {
  // COMMENT takes a literal, not a parameter: escapeLiteral quotes it.
  await c.query(`COMMENT ON DATABASE ${c.escapeIdentifier(db)} IS ${comment === null ? 'NULL' : c.escapeLiteral(comment)}`);
}

/** Whether the bot's role may create databases (CREATEDB or superuser). */
export async function canCreateDatabase(c: pg.Client): Promise<boolean> {
  const r = await c.query<{ ok: boolean }>(`SELECT rolcreatedb OR rolsuper AS ok FROM pg_roles WHERE rolname = current_user`);
  return r.rows[0]?.ok === true;
}

export async function renameDatabase(c: pg.Client, from: string, to: string): Promise<void> {
  await c.query(`ALTER DATABASE ${c.escapeIdentifier(from)} RENAME TO ${c.escapeIdentifier(to)}`);
}

/** Connection settings saved before a cutover blocks them, put back afterwards (success or failure). */
export interface ConnectionSettings {
  allowConnections: boolean;
  connectionLimit: number;
}

/**
 * Blocks new connections: ALLOW_CONNECTIONS false stops every role (superusers too), CONNECTION LIMIT
 * 0 is a second lock for anything that re-enables the first. Existing sessions are not affected.
 */
export async function blockConnections(c: pg.Client, db: string): Promise<void> {
  const q = c.escapeIdentifier(db);
  await c.query(`ALTER DATABASE ${q} WITH ALLOW_CONNECTIONS false CONNECTION LIMIT 0`);
}

export async function restoreConnections(c: pg.Client, db: string, s: ConnectionSettings): Promise<void> {
  const q = c.escapeIdentifier(db);
  await c.query(`ALTER DATABASE ${q} WITH ALLOW_CONNECTIONS ${s.allowConnections ? 'true' : 'false'} CONNECTION LIMIT ${Math.trunc(s.connectionLimit)}`);
}

export interface DbSession {
  pid: number;
  backendStart: string;
  database: string;
  app: string;
  user: string | null;
  state: string | null;
}

/** Every client session on these databases except this one (the bot's other sessions included). */
export async function sessionsOn(c: pg.Client, dbs: string[]): Promise<DbSession[]> {
  const r = await c.query<DbSession>(
    `SELECT a.pid, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "backendStart",
            a.datname AS database, coalesce(a.application_name, '') AS app, a.usename AS "user", a.state
       FROM pg_stat_activity a
      WHERE a.datname = ANY($1::text[]) AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
      ORDER BY a.pid`,
    [dbs],
  );
  return r.rows;
}

/**
 * Ends the bot's own idle pooled sessions on these databases (web and worker processes keep a few
 * open per target): a rename needs the database empty, and the kill guard rightly refuses to touch
 * `dbops` sessions. Active ones are left alone: another run is working there and the caller refuses.
 */
export async function endIdleBotSessions(c: pg.Client, dbs: string[]): Promise<number> {
  const r = await c.query<{ n: string }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) AS n
       FROM pg_stat_activity a
      WHERE a.datname = ANY($1::text[]) AND a.application_name = $2 AND a.pid <> pg_backend_pid() AND a.state IS DISTINCT FROM 'active'`,
    [dbs, BOT_APPLICATION_NAME],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Waits (up to timeoutMs) until no session is left on the databases; returns what is still there. */
export async function waitEmpty(c: pg.Client, dbs: string[], timeoutMs: number): Promise<DbSession[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = await sessionsOn(c, dbs);
    if (!left.length || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `<db>_old_<yyyymmdd>` (UTC), within Postgres' 63-byte name limit. */
export function oldName(db: string, at: Date): string {
  const d = at.toISOString().slice(0, 10).replace(/-/g, '');
  return `${db.slice(0, 63 - 5 - d.length)}_old_${d}`;
}
