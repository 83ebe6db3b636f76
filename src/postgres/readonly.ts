/**
 * The seeds' emergency read-only switch: `ALTER DATABASE <db> SET default_transaction_read_only`.
 * It is a default, not a lock: new sessions start read-only, a session may still
 * `SET default_transaction_read_only = off` (or `BEGIN READ WRITE`), existing sessions keep their
 * setting until they reconnect, and a per-role setting (ALTER ROLE … SET) wins over the database's.
 */
import type pg from 'pg';

export interface ReadOnlyState {
  /** The connected database's name, from the catalog (quoted with escapeIdentifier when used). */
  database: string;
  /** The database-level setting now: 'on', 'off', or null when none is set. */
  setting: string | null;
  /** Roles whose own setting overrides the database's for their new sessions ("app: off"). */
  roleOverrides: string[];
}

const PARAM = 'default_transaction_read_only';

export async function readOnlyState(c: pg.Client): Promise<ReadOnlyState> {
  const db = await c.query<{ database: string; setting: string | null }>(
    `SELECT d.datname AS database,
            (SELECT split_part(cfg, '=', 2) FROM pg_db_role_setting s, unnest(s.setconfig) cfg
              WHERE s.setdatabase = d.oid AND s.setrole = 0 AND cfg LIKE $1 || '=%' LIMIT 1) AS setting
       FROM pg_database d WHERE d.datname = current_database()`,
    [PARAM],
  );
  // Role settings for this database, or for every database, beat the database's own (PostgreSQL's order).
  const roles = await c.query<{ role: string; value: string }>(
    `SELECT r.rolname AS role, split_part(cfg, '=', 2) AS value
       FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) cfg
      WHERE s.setrole <> 0 AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
        AND cfg LIKE $1 || '=%'
      ORDER BY r.rolname`,
    [PARAM],
  );
  const row = db.rows[0]!;
  return { database: row.database, setting: row.setting, roleOverrides: roles.rows.map((r) => `${r.role}: ${r.value}`) };
}

/**
 * Sets the database default for new sessions. `BEGIN READ WRITE` because the bot's own session may
 * have started after an earlier `on` and so be read-only itself: ALTER DATABASE is refused in a
 * read-only transaction, which would make `off` impossible exactly when it is needed.
 */
export async function setDatabaseReadOnly(c: pg.Client, database: string, on: boolean): Promise<void> {
  await c.query('BEGIN READ WRITE');
  try {
    // The name comes from the catalog (readOnlyState), never from user text.
    await c.query(`ALTER DATABASE ${c.escapeIdentifier(database)} SET ${PARAM} = ${on ? 'on' : 'off'}`);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Pids of client sessions in this database with an open write transaction: a transaction id is
 * assigned at the first write, so `backend_xid IS NOT NULL` means it has written and not ended.
 * The kill guard's capture decides which of them may be signalled (protections, superusers).
 */
export async function openWriterPids(c: pg.Client): Promise<number[]> {
  const r = await c.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND datname = current_database()
        AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
      ORDER BY pid`,
  );
  return r.rows.map((x) => x.pid);
}
