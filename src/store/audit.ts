import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Pool } from './db.js';

export interface AuditEntry {
  actor: string;
  action: string;
  runId?: string | null;
  target?: string | null;
  channel?: string | null;
  outcome: string;
  detail?: Record<string, unknown>;
}

export interface AuditRow extends Required<Omit<AuditEntry, 'detail'>> {
  id: string;
  at: string;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

/** Canonical JSON (sorted keys) so the hash does not depend on jsonb key order. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

function rowHash(prev: string, r: { id: string; at: string; actor: string; action: string; runId: string | null; target: string | null; channel: string | null; outcome: string; detail: unknown }): string {
  return createHash('sha256')
    .update(prev)
    .update(canonical({ id: r.id, at: r.at, actor: r.actor, action: r.action, runId: r.runId, target: r.target, channel: r.channel, outcome: r.outcome, detail: r.detail }))
    .digest('hex');
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Appends one row to the tamper-evident chain. Must run inside a transaction on `c`: the advisory
 * xact lock serialises writers so each row's prev_hash is the true previous row's hash.
 */
export async function appendAudit(c: Queryable, e: AuditEntry): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(4242002)');
  // The chain's order is the bigint id (assigned below, under the lock), so the previous row is the
  // highest id. Read Committed matters, and so does this being a statement of its own after the
  // lock's: its snapshot is taken with the lock held, so it sees the row the last holder committed.
  // Previous hash, id and timestamp come in one round trip; the timestamp is text with microsecond
  // precision so verification recomputes the exact same string, and both are fixed before the
  // insert so the row is written once, hash included.
  const pre = await c.query<{ prev: string | null; id: string; at: string }>(
    `SELECT (SELECT hash FROM audit ORDER BY audit.id DESC LIMIT 1) AS prev, nextval('audit_id_seq')::text AS id,
            to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
  );
  const { id, at } = pre.rows[0]!;
  const prevHash = pre.rows[0]!.prev ?? GENESIS;
  // jsonb refuses NUL characters; strip them before hashing so stored and hashed content agree.
  const detail = JSON.parse(JSON.stringify(e.detail ?? {}).replace(/\\u0000/g, '')) as Record<string, unknown>;
  const hash = rowHash(prevHash, { id, at, actor: e.actor, action: e.action, runId: e.runId ?? null, target: e.target ?? null, channel: e.channel ?? null, outcome: e.outcome, detail });
  await c.query(
    `INSERT INTO audit (id, at, actor, action, run_id, target, channel, outcome, detail, prev_hash, hash)
     VALUES ($1::bigint, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [id, at, e.actor, e.action, e.runId ?? null, e.target ?? null, e.channel ?? null, e.outcome, JSON.stringify(detail), prevHash, hash],
  );
}

/** Audit outside any caller transaction. */
export async function audit(pool: Pool, e: AuditEntry): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await appendAudit(c, e);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const AT_TEXT = `to_char(audit.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
/**
 * The output columns `id` and `at` are text (for exact hashing), and a bare `ORDER BY id` or
 * `ORDER BY at` would sort those text aliases ('10' < '9'). Every ORDER BY and WHERE in this file
 * therefore names the table's columns (`audit.id`, `audit.at`).
 */
const COLUMNS = `audit.id::text AS id, ${AT_TEXT} AS at, actor, action, run_id, target, channel, outcome, detail, prev_hash, hash`;

function toRow(r: Record<string, unknown>): AuditRow {
  return {
    id: String(r.id),
    at: String(r.at),
    actor: String(r.actor),
    action: String(r.action),
    runId: (r.run_id as string | null) ?? null,
    target: (r.target as string | null) ?? null,
    channel: (r.channel as string | null) ?? null,
    outcome: String(r.outcome),
    detail: (r.detail as Record<string, unknown>) ?? {},
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  } as AuditRow;
}

export async function listAudit(pool: Pool, q: { target?: string; runId?: string; sinceSeconds?: number; limit?: number }): Promise<AuditRow[]> {
  const res = await pool.query(
    `SELECT ${COLUMNS} FROM audit
      WHERE ($1::text IS NULL OR audit.target = $1) AND ($2::text IS NULL OR audit.run_id = $2)
        AND ($3::int IS NULL OR audit.at > now() - make_interval(secs => $3))
      ORDER BY audit.at DESC, audit.id DESC LIMIT $4`,
    [q.target ?? null, q.runId ?? null, q.sinceSeconds ?? null, q.limit ?? 50],
  );
  return res.rows.map(toRow);
}

export interface ChainReport {
  ok: boolean;
  rows: number;
  /** First row whose content, link or hash does not verify. */
  brokenAt?: { id: string; reason: string };
}

const PAGE = 1000;

/**
 * Walks the whole chain in id order (the order rows were chained in); keyset pages of 1000 keep
 * memory flat for long histories, and `audit.id > last` continues exactly after the previous page.
 * Each row must link to the previous row's hash and match its own content; the first row that does
 * not is reported. A removed row breaks the link of the row after it; swapped contents break the
 * link (and hash) at the first of the pair; an edited row no longer matches its hash. Removing the
 * newest rows is invisible to the chain alone (nothing links to them yet): that needs the latest
 * hash kept somewhere else.
 */
export async function verifyAudit(pool: Pool): Promise<ChainReport> {
  let prev = GENESIS;
  let lastId = '0';
  let count = 0;
  for (;;) {
    const res = await pool.query(`SELECT ${COLUMNS} FROM audit WHERE audit.id > $1::bigint ORDER BY audit.id LIMIT ${PAGE}`, [lastId]);
    for (const raw of res.rows) {
      const r = toRow(raw);
      count++;
      if (r.prevHash !== prev) return { ok: false, rows: count, brokenAt: { id: r.id, reason: `link to the previous row${lastId !== '0' ? ` (${lastId})` : ''} is broken (a row before it was removed, or rows were reordered)` } };
      if (rowHash(prev, r) !== r.hash) return { ok: false, rows: count, brokenAt: { id: r.id, reason: 'content does not match its hash (the row was altered)' } };
      prev = r.hash;
      lastId = r.id;
    }
    if (res.rows.length < PAGE) return { ok: true, rows: count };
  }
}
