/**
 * Which verbs each engine supports, derived from ENGINE_CAPABILITIES (no client is built), for
 * `/db help`, `/db help <verb>` and `/db targets`. Verbs not listed here run SQL on the target's
 * connection and so work on every engine.
 */
import type { Target } from '../config.js';
import { ENGINE_CAPABILITIES, type Capability, type ProviderEngine } from '../providers/index.js';
import { RUNBOOKS } from '../runbooks/index.js';

/**
 * Engine-backed verbs and the capability each needs; a verb shows up only once its runbook is
 * registered. Strings, not `Capability`, so a verb can be listed here before its capability exists
 * (an unknown one is simply not supported anywhere). Add a line with each new engine-backed verb.
 */
export const VERB_CAPABILITY: Readonly<Record<string, string>> = {
  snapshot: 'snapshot',
  snapshots: 'list',
  'backup verify': 'verify',
  'backup drill': 'verify',
  'backup drills': 'verify',
  restore: 'restore',
  cutover: 'restore',
  rollback: 'restore',
  failover: 'failover',
  scale: 'scale',
  retention: 'retention',
};

export const ENGINES: readonly ProviderEngine[] = ['self-hosted', 'aws-rds', 'aws-aurora', 'azure-flexible'];

/** The engine-backed verbs that exist, in registry order (pass the registry's verbs; default: every runbook). */
export function engineVerbs(verbs: readonly string[] = RUNBOOKS.map((r) => r.name)): string[] {
  return verbs.filter((v) => Object.hasOwn(VERB_CAPABILITY, v));
}

export function supports(engine: ProviderEngine, verb: string): boolean {
  const cap = VERB_CAPABILITY[verb];
  return cap === undefined || ENGINE_CAPABILITIES[engine].has(cap as Capability);
}

/** Preformatted verb × engine table (✓ / –) for a code block. */
export function matrixTable(verbs: readonly string[] = engineVerbs()): string {
  const first = Math.max(4, ...verbs.map((v) => v.length));
  const head = ['verb'.padEnd(first), ...ENGINES].join('  ');
  const rows = verbs.map((v) => [v.padEnd(first), ...ENGINES.map((e) => (supports(e, v) ? '✓' : '–').padEnd(e.length))].join('  ').trimEnd());
  return [head, ...rows].join('\n');
}

/** "snapshot, snapshots · not: backup verify" for one target's engine. */
export function targetVerbsLine(target: Pick<Target, 'engine'>, verbs: readonly string[] = engineVerbs()): string {
  const yes = verbs.filter((v) => supports(target.engine, v));
  const no = verbs.filter((v) => !supports(target.engine, v));
  if (!verbs.length) return '';
  return `engine verbs: ${yes.length ? yes.join(', ') : 'none'}${no.length ? ` · not on ${target.engine}: ${no.join(', ')}` : ''}`;
}

/** For `/db help <verb>`: the engines this verb works on, or undefined for a SQL verb (all engines). */
export function enginesLine(verb: string): string | undefined {
  if (!Object.hasOwn(VERB_CAPABILITY, verb)) return undefined;
  const yes = ENGINES.filter((e) => supports(e, verb));
  const no = ENGINES.filter((e) => !supports(e, verb));
  return `${yes.join(', ') || 'none yet'}${no.length ? ` (not on ${no.join(', ')})` : ''}`;
}
