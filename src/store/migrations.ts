import type { Pool } from './db.js';

/** Ordered, append-only: never edit a released migration, add a new one. */
const MIGRATIONS: ReadonlyArray<{ id: number; name: string; sql: string }> = [
  {
    id: 1,
    name: 'runs, steps, approvals, audit',
    sql: `
      CREATE TABLE runs (
        id text PRIMARY KEY,
        runbook text NOT NULL,
        target text NOT NULL,
        environment text NOT NULL,
        args jsonb NOT NULL,
        risk text NOT NULL CHECK (risk IN ('read','change','destructive')),
        plan jsonb NOT NULL,
        plan_hash text NOT NULL,
        requester text NOT NULL,
        channel text NOT NULL,
        reason text,
        state text NOT NULL CHECK (state IN ('pending_approval','queued','running','succeeded','failed','denied','expired','refused')),
        required_approvals int NOT NULL DEFAULT 0,
        expires_at timestamptz,
        next_step int NOT NULL DEFAULT 0,
        checkpoint jsonb NOT NULL DEFAULT '{}'::jsonb,
        result jsonb,
        error text,
        thread_channel text,
        thread_ts text,
        card_channel text,
        card_ts text,
        attempts int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      );
      CREATE INDEX runs_target_created ON runs (target, created_at DESC);
      CREATE INDEX runs_active ON runs (state) WHERE state IN ('pending_approval','queued','running');

      CREATE TABLE run_steps (
        run_id text NOT NULL REFERENCES runs(id),
        idx int NOT NULL,
        name text NOT NULL,
        state text NOT NULL CHECK (state IN ('running','done','failed')),
        attempts int NOT NULL DEFAULT 1,
        output jsonb,
        error text,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        PRIMARY KEY (run_id, idx)
      );

      CREATE TABLE approvals (
        run_id text NOT NULL REFERENCES runs(id),
        approver text NOT NULL,
        decision text NOT NULL CHECK (decision IN ('approve','deny')),
        reason text,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, approver)
      );

      CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor text NOT NULL,
        action text NOT NULL,
        run_id text,
        target text,
        channel text,
        outcome text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        prev_hash text NOT NULL,
        hash text NOT NULL
      );
      CREATE INDEX audit_target_at ON audit (target, at DESC);
      CREATE INDEX audit_run ON audit (run_id);

      -- Append-only: the bot never updates or deletes audit rows; the hash chain catches anyone who does.
      CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
      CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    `,
  },
  {
    id: 2,
    name: 'run leases with fencing tokens',
    sql: `
      -- A run is executed by whoever holds its lease: owner + fence (bumped on every claim) + expiry
      -- (renewed while a step runs). Only the holder of the current fence may record progress.
      ALTER TABLE runs ADD COLUMN lease_owner text;
      ALTER TABLE runs ADD COLUMN lease_fence bigint NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN lease_expires_at timestamptz;
    `,
  },
  {
    id: 3,
    name: 'backup drills',
    sql: `
      -- One scheduled backup verification per target. The source of truth: BullMQ's job schedulers
      -- are re-created from these rows (a Redis wipe loses nothing). Firings happen at
      -- anchor_at + k * every_ms; last_job_id dedupes a redelivered firing; reported_run_id marks
      -- the run whose result has been posted.
      CREATE TABLE backup_drills (
        target text PRIMARY KEY,
        every_ms bigint NOT NULL CHECK (every_ms >= 1000),
        anchor_at timestamptz NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        last_job_id text,
        last_fired_at timestamptz,
        last_run_id text,
        last_outcome text,
        last_detail text,
        reported_run_id text
      );
    `,
  },
];

/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock, so
 * replicas starting together don't race. Transaction-scoped (pg_advisory_xact_lock), not session:
 * behind PgBouncer in transaction mode consecutive statements outside a transaction may land on
 * different server connections, so a session lock taken by one statement could be released, or
 * held forever, on a connection the next statement never sees. Inside one transaction every
 * statement shares a server connection and the lock ends with it. All pending migrations commit
 * together or not at all (a failure leaves the schema as it was; the next start retries).
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock(4242001)');
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      // Read after the lock: a replica that migrated first has committed, and this statement's snapshot sees it.
      const done = new Set((await c.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.id)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
        applied.push(m.id);
      }
      await c.query('COMMIT');
      return applied;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    c.release();
  }
}
