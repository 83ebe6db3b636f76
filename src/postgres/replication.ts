import type pg from 'pg';

export interface Replica {
  pid: number;
  application: string;
  clientAddr: string | null;
  state: string | null;
  syncState: string | null;
  /** Bytes between the primary's current WAL position and what the replica has sent/flushed/replayed (null: not reported). */
  sentLagBytes: number | null;
  flushLagBytes: number | null;
  replayLagBytes: number | null;
  /** pg_stat_replication.replay_lag in seconds (null when the replica is idle and caught up, or does not replay). */
  replayLagSeconds: number | null;
  slot: string | null;
}

export interface Slot {
  name: string;
  type: string;
  plugin: string | null;
  database: string | null;
  active: boolean;
  activePid: number | null;
  /** WAL kept for this slot: current WAL position − restart_lsn (null when the slot never reserved WAL). */
  retainedBytes: number | null;
  /** reserved | extended | unreserved | lost (PG13+) */
  walStatus: string | null;
  /** bytes that can still be written before this slot is in danger of losing WAL (max_slot_wal_keep_size), null: unlimited */
  safeWalBytes: number | null;
  /** PG17+: when the slot became inactive (ISO), else null */
  inactiveSince: string | null;
}

export interface Replication {
  /** true when the target is itself a standby: then the replicas/slots are its own cascade. */
  inRecovery: boolean;
  replicas: Replica[];
  slots: Slot[];
  /** On a standby: how far it is behind (bytes received but not replayed, seconds since the last replayed transaction). */
  standby: { receiveReplayBytes: number | null; replaySeconds: number | null } | null;
}

/**
 * Replicas (pg_stat_replication) and replication slots, with lag in bytes via pg_wal_lsn_diff. On a
 * standby pg_current_wal_lsn() is not allowed, so positions are measured from the last received WAL.
 * Columns newer than PG13 (inactive_since, PG17) are read through to_jsonb so one query fits 13–17.
 */
export async function replication(c: pg.Client): Promise<Replication> {
  const inRecovery = (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
  const here = inRecovery ? 'pg_last_wal_receive_lsn()' : 'pg_current_wal_lsn()';
  const replicas = await c.query<Replica>(
    `SELECT r.pid, r.application_name AS application, host(r.client_addr) AS "clientAddr", r.state, r.sync_state AS "syncState",
            pg_wal_lsn_diff(${here}, r.sent_lsn)::float8 AS "sentLagBytes",
            pg_wal_lsn_diff(${here}, r.flush_lsn)::float8 AS "flushLagBytes",
            pg_wal_lsn_diff(${here}, r.replay_lsn)::float8 AS "replayLagBytes",
            extract(epoch FROM r.replay_lag)::float8 AS "replayLagSeconds",
            s.slot_name AS slot
       FROM pg_stat_replication r
       LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
      ORDER BY r.application_name, r.pid`,
  );
  const slots = await c.query<Slot>(
    `SELECT s.slot_name AS name, s.slot_type AS type, s.plugin, s.database, s.active, s.active_pid AS "activePid",
            pg_wal_lsn_diff(${here}, s.restart_lsn)::float8 AS "retainedBytes",
            s.wal_status AS "walStatus", s.safe_wal_size::float8 AS "safeWalBytes",
            to_char((to_jsonb(s) ->> 'inactive_since')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "inactiveSince"
       FROM pg_replication_slots s
      ORDER BY s.active, pg_wal_lsn_diff(${here}, s.restart_lsn) DESC NULLS LAST, s.slot_name`,
  );
  let standby: Replication['standby'] = null;
  if (inRecovery) {
    const r = await c.query<{ bytes: number | null; seconds: number | null }>(
      `SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS bytes,
              extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS seconds`,
    );
    standby = { receiveReplayBytes: r.rows[0]!.bytes, replaySeconds: r.rows[0]!.seconds };
  }
  return { inRecovery, replicas: replicas.rows, slots: slots.rows, standby };
}
