import { analyze } from './analyze.js';
import { backupVerify } from './backup-verify.js';
import { bloat } from './bloat.js';
import { connections } from './connections.js';
import { cutover } from './cutover.js';
import { failover } from './failover.js';
import { indexes } from './indexes.js';
import { cancel, kill } from './kill.js';
import { locks } from './locks.js';
import { readonly } from './readonly.js';
import { Registry } from './registry.js';
import { replicationReport } from './replication.js';
import { restore } from './restore.js';
import { retention } from './retention.js';
import { rollback } from './rollback.js';
import type { Runbook } from './runbook.js';
import { size } from './size.js';
import { slow } from './slow.js';
import { scale } from './scale.js';
import { snapshot } from './snapshot.js';
import { snapshots } from './snapshots.js';
import { status } from './status.js';
import { vacuum } from './vacuum.js';

/** Emergency operations (destructive unless a runbook's risk says otherwise). */
const EMERGENCY: Runbook[] = [failover, readonly, scale, retention];

/** Health reports (read-only, with thresholds). */
const REPORTS: Runbook[] = [slow, bloat, indexes, replicationReport, size];

/** Every runbook the bot offers; help lists exactly these (plus the meta verbs). */
export const RUNBOOKS: Runbook[] = [status, connections, locks, vacuum, analyze, cancel, kill, snapshot, snapshots, backupVerify, restore, cutover, rollback, ...EMERGENCY, ...REPORTS];

export function defaultRegistry(): Registry {
  return new Registry(RUNBOOKS);
}
