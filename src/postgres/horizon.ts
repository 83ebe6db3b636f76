import type pg from 'pg';
import { secondsSince } from './sql.js';

/**
 * Something that keeps the xmin horizon back, so VACUUM must keep dead tuples that no one else can
 * see any more. `catalogOnly` holders (a logical slot's catalog_xmin) pin system catalogs only.
 */
export type HorizonHolder =
  | {
      kind: 'session';
      pid: number;
      app: string | null;
      user: string | null;
      state: string | null;
      backendType: string | null;
      isSuperuser: boolean;
      /** transaction (or query) age in seconds: how long the snapshot has been held */
      heldSeconds: number | null;
      xidAge: number;
      catalogOnly: false;
    }
  | { kind: 'replication_slot'; slotName: string; slotType: string; active: boolean; activePid: number | null; xidAge: number; catalogOnly: boolean; heldSeconds: null }
  | { kind: 'prepared_xact'; gid: string; owner: string | null; heldSeconds: number | null; xidAge: number; catalogOnly: false }
  | { kind: 'standby'; pid: number; app: string | null; client: string | null; heldSeconds: null; xidAge: number; catalogOnly: false };

interface Row {
  kind: HorizonHolder['kind'];
  pid: number | null;
  name: string | null;
  app: string | null;
  user_name: string | null;
  state: string | null;
  backend_type: string | null;
  is_superuser: boolean | null;
  held_seconds: number | null;
  xid_age: number;
  catalog_only: boolean;
  active: boolean | null;
  slot_type: string | null;
  client: string | null;
}

// One statement so every source is read at the same moment. Sessions count only in this database
// (a plain table's horizon ignores other databases' snapshots); slots and standby feedback count
// cluster-wide. Backends running a plain VACUUM are left out: they advertise an xmin in
// pg_stat_activity but are ignored when others compute their horizon (PROC_IN_VACUUM). Walsenders
// are reported through pg_stat_replication instead, where their standby is named.
const SQL = `
SELECT 'session' AS kind, a.pid, NULL AS name, a.application_name AS app, a.usename AS user_name, a.state,
       a.backend_type, coalesce(r.rolsuper, false) AS is_superuser,
       ${secondsSince('coalesce(a.xact_start, a.query_start)')} AS held_seconds,
       greatest(age(a.backend_xmin), age(a.backend_xid))::float8 AS xid_age, false AS catalog_only,
       NULL::bool AS active, NULL AS slot_type, coalesce(host(a.client_addr), 'local') AS client
  FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
 WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL)
   AND a.pid <> pg_backend_pid()
   AND a.backend_type IS DISTINCT FROM 'walsender'
   AND (a.datname = current_database() OR a.datname IS NULL)
   AND a.pid NOT IN (SELECT pid FROM pg_stat_progress_vacuum)
UNION ALL
SELECT 'replication_slot', s.active_pid, s.slot_name::text, NULL, NULL, NULL, NULL, NULL, NULL,
       age(s.xmin)::float8, false, s.active, s.slot_type, NULL
  FROM pg_replication_slots s WHERE s.xmin IS NOT NULL
UNION ALL
SELECT 'replication_slot', s.active_pid, s.slot_name::text, NULL, NULL, NULL, NULL, NULL, NULL,
       age(s.catalog_xmin)::float8, true, s.active, s.slot_type, NULL
  FROM pg_replication_slots s WHERE s.catalog_xmin IS NOT NULL
UNION ALL
SELECT 'prepared_xact', NULL, p.gid, NULL, p.owner::text, NULL, NULL, NULL, ${secondsSince('p.prepared')},
       age(p.transaction)::float8, false, NULL, NULL, NULL
  FROM pg_prepared_xacts p WHERE p.database = current_database()
UNION ALL
SELECT 'standby', w.pid, NULL, w.application_name, w.usename, w.state, NULL, NULL, NULL,
       age(w.backend_xmin)::float8, false, NULL, NULL, coalesce(host(w.client_addr), 'local')
  FROM pg_stat_replication w WHERE w.backend_xmin IS NOT NULL
 ORDER BY xid_age DESC, held_seconds DESC NULLS LAST`;

function toHolder(r: Row): HorizonHolder {
  switch (r.kind) {
    case 'session':
      return {
        kind: 'session', pid: r.pid!, app: r.app, user: r.user_name, state: r.state, backendType: r.backend_type,
        isSuperuser: r.is_superuser === true, heldSeconds: r.held_seconds, xidAge: r.xid_age, catalogOnly: false,
      };
    case 'replication_slot':
      return { kind: 'replication_slot', slotName: r.name!, slotType: r.slot_type ?? '?', active: r.active === true, activePid: r.pid, xidAge: r.xid_age, catalogOnly: r.catalog_only, heldSeconds: null };
    case 'prepared_xact':
      return { kind: 'prepared_xact', gid: r.name!, owner: r.user_name, heldSeconds: r.held_seconds, xidAge: r.xid_age, catalogOnly: false };
    case 'standby':
      return { kind: 'standby', pid: r.pid!, app: r.app, client: r.client, heldSeconds: null, xidAge: r.xid_age, catalogOnly: false };
  }
}

/**
 * Everything holding the xmin horizon back, oldest (largest xid age) first. Another role's
 * backend_xmin is visible without extra privileges; its state/query need pg_read_all_stats.
 */
export async function horizonHolders(client: pg.Client): Promise<HorizonHolder[]> {
  const r = await client.query<Row>(SQL);
  return r.rows.map(toHolder);
}

/** The holder that keeps dead tuples of ordinary tables: the oldest one that is not catalog-only. */
export function oldestDataHolder(holders: readonly HorizonHolder[]): HorizonHolder | null {
  return holders.find((h) => !h.catalogOnly) ?? null;
}
