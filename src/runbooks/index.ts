import { analyze } from './analyze.js';
import { connections } from './connections.js';
import { cancel, kill } from './kill.js';
import { locks } from './locks.js';
import { Registry } from './registry.js';
import type { Runbook } from './runbook.js';
import { snapshot } from './snapshot.js';
import { snapshots } from './snapshots.js';
import { status } from './status.js';
import { vacuum } from './vacuum.js';

/** Every runbook the bot offers; help lists exactly these (plus the meta verbs). */
export const RUNBOOKS: Runbook[] = [status, connections, locks, vacuum, analyze, cancel, kill, snapshot, snapshots];

export function defaultRegistry(): Registry {
  return new Registry(RUNBOOKS);
}
