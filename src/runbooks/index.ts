import { analyze } from './analyze.js';
import { Registry } from './registry.js';
import type { Runbook } from './runbook.js';
import { status } from './status.js';
import { vacuum } from './vacuum.js';

/** Every runbook the bot offers; help lists exactly these (plus the meta verbs). */
export const RUNBOOKS: Runbook[] = [status, vacuum, analyze];

export function defaultRegistry(): Registry {
  return new Registry(RUNBOOKS);
}
