import type { Target } from '../config.js';
import { formatDuration } from '../duration.js';
import type { HorizonHolder } from '../postgres/horizon.js';
import { endAdvice } from './advice.js';

/** "pid 17637 (demo-app) has held a snapshot for 21m — `/db kill demo 17637`" and the like. */
export function describeHolder(target: Pick<Target, 'name' | 'protectedApps' | 'protectedUsers'>, h: HorizonHolder): string {
  const held = (s: number | null) => (s !== null ? ` for ${formatDuration(s)}` : '');
  switch (h.kind) {
    case 'session': {
      const a = endAdvice(target, h);
      const who = `pid ${h.pid} (${h.app || 'no application_name'}${h.user ? `, user ${h.user}` : ''}${h.state ? `, ${h.state}` : ''})`;
      return `${who} has held a snapshot${held(h.heldSeconds)} (${h.xidAge} transactions old)${a.command ? ` — \`${a.command}\`` : ` — ${a.why}`}`;
    }
    case 'replication_slot':
      return `replication slot ${h.slotName} (${h.slotType}, ${h.active ? `active, pid ${h.activePid ?? '?'}` : 'inactive'}) holds ${h.catalogOnly ? 'catalog_xmin' : 'xmin'} back ${h.xidAge} transactions — ${h.active ? 'its consumer is behind' : 'drop it if nothing uses it any more'} (\`SELECT pg_drop_replication_slot('${h.slotName.replace(/'/g, "''")}')\`, a DBA's call)`;
    case 'prepared_xact':
      return `prepared transaction ${h.gid}${h.owner ? ` (owner ${h.owner})` : ''} has been open${held(h.heldSeconds)} (${h.xidAge} transactions old) — its transaction manager should finish it, or a DBA runs \`COMMIT PREPARED\` / \`ROLLBACK PREPARED '${h.gid.replace(/'/g, "''")}'\``;
    case 'standby':
      return `standby ${h.app || h.client || `walsender pid ${h.pid}`} (hot_standby_feedback) holds xmin back ${h.xidAge} transactions — a long query on that standby`;
  }
}
