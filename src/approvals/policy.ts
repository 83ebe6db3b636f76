import type { EnvPolicyConfig, PolicyConfig, Target } from '../config.js';
import type { Risk } from '../runbooks/runbook.js';

export const DEFAULT_EXPIRY_MINUTES = 30;

type RiskRule = 'auto' | 'approval';

/**
 * What a target's plans need, resolved once at load so every caller reads the same answer and no
 * caller re-implements the merge.
 */
export interface EffectivePolicy {
  readonly change: { readonly rule: RiskRule; readonly quorum: number };
  readonly destructive: { readonly quorum: number };
  readonly announce: boolean;
  readonly expiryMinutes: number;
  /**
   * Where the environment layer came from: the file's entry for this environment, the strictest
   * rule the file defines (environment not listed: fail closed), or the built-in defaults (the file
   * lists no environments at all).
   */
  readonly basis: 'environment' | 'strictest' | 'defaults';
}

/** One layer flattened to per-key values: `approvals: 2` means 2 for both risks. */
interface Layer {
  change?: RiskRule;
  changeQuorum?: number;
  destructiveQuorum?: number;
  announce?: boolean;
}

function layerOf(p: EnvPolicyConfig | undefined): Layer {
  if (!p) return {};
  const a = p.approvals;
  const q = typeof a === 'number' ? { change: a, destructive: a } : (a ?? {});
  const out: Layer = {};
  if (p.change !== undefined) out.change = p.change;
  if (q.change !== undefined) out.changeQuorum = q.change;
  if (q.destructive !== undefined) out.destructiveQuorum = q.destructive;
  if (p.announce !== undefined) out.announce = p.announce;
  return out;
}

/** Layers listed from most to least specific; the first one that sets a key wins (per key, nothing dropped). */
function firstSet<K extends keyof Layer>(layers: Layer[], key: K): Layer[K] {
  for (const l of layers) if (l[key] !== undefined) return l[key];
  return undefined;
}

/**
 * Announcing is opt-in per environment, except that an environment named "production" announces
 * unless it says otherwise: files written before `announce` existed keep announcing production runs.
 */
function defaultAnnounce(environment: string): boolean {
  return environment === 'production';
}

/** One listed environment's own rule over the file's top level: what the file says for it. */
function fileRuleFor(file: PolicyConfig, environment: string): Required<Layer> {
  const layers = [layerOf(file.environments?.[environment]), layerOf(file)];
  return {
    change: firstSet(layers, 'change') ?? 'auto',
    changeQuorum: firstSet(layers, 'changeQuorum') ?? 1,
    destructiveQuorum: firstSet(layers, 'destructiveQuorum') ?? 1,
    announce: firstSet(layers, 'announce') ?? defaultAnnounce(environment),
  };
}

/**
 * The rule for an environment the file does not list: the strictest of every rule it does define
 * (each listed environment, and the file's top level), key by key. A typo or a new environment
 * therefore never runs with less control than the file's most guarded environment.
 */
function strictestRule(file: PolicyConfig): Layer {
  const listed = Object.keys(file.environments ?? {});
  const rules = listed.map((env) => fileRuleFor(file, env));
  const top = layerOf(file);
  const needsApproval = top.change === 'approval' || rules.some((r) => r.change === 'approval');
  // Quorums only count where they apply: a change quorum on an "auto" environment is not a rule.
  const changeQuorums = rules.filter((r) => r.change === 'approval').map((r) => r.changeQuorum);
  return {
    change: needsApproval ? 'approval' : 'auto',
    changeQuorum: Math.max(1, top.changeQuorum ?? 1, ...changeQuorums),
    destructiveQuorum: Math.max(1, top.destructiveQuorum ?? 1, ...rules.map((r) => r.destructiveQuorum)),
    announce: top.announce === true || rules.some((r) => r.announce),
  };
}

/**
 * A target's effective policy. Most specific first, per key: the target's own entry for its
 * environment, the target's top level, the file's entry for the environment, the file's top level.
 * An environment the file does not list takes the file's strictest rule in place of its entry
 * (fail closed); a file listing no environments keeps the defaults (change auto, destructive 1
 * approver, announce only production).
 */
export function resolvePolicy(file: PolicyConfig, own: PolicyConfig, environment: string): EffectivePolicy {
  const listed = Object.keys(file.environments ?? {}).length > 0;
  const known = file.environments?.[environment] !== undefined;
  const fileEnv = known ? layerOf(file.environments?.[environment]) : listed ? strictestRule(file) : {};
  const layers = [layerOf(own.environments?.[environment]), layerOf(own), fileEnv, layerOf(file)];
  return {
    change: { rule: firstSet(layers, 'change') ?? 'auto', quorum: Math.max(1, firstSet(layers, 'changeQuorum') ?? 1) },
    // Destructive always needs at least one approver, whatever the file says (the schema's min is 1 too).
    destructive: { quorum: Math.max(1, firstSet(layers, 'destructiveQuorum') ?? 1) },
    announce: firstSet(layers, 'announce') ?? defaultAnnounce(environment),
    expiryMinutes: own.expiryMinutes ?? file.expiryMinutes ?? DEFAULT_EXPIRY_MINUTES,
    basis: known ? 'environment' : listed ? 'strictest' : 'defaults',
  };
}

/** How many distinct approvers (never the requester) a plan needs; 0 = none. */
export function requiredApprovals(target: Target, risk: Risk): number {
  if (risk === 'read') return 0;
  const p = target.effective;
  if (risk === 'change') return p.change.rule === 'approval' ? p.change.quorum : 0;
  return p.destructive.quorum;
}

export function expiryMinutes(target: Target): number {
  return target.effective.expiryMinutes;
}

/**
 * Destructive runs are always announced in the incident channel; others when policy says so. A
 * caller holding only a stand-in for a target that is no longer configured gets "announce": being
 * loud about an unknown target is the safe side.
 */
export function shouldAnnounce(target: Target, risk: Risk): boolean {
  if (risk === 'destructive') return true;
  if (risk === 'read') return false;
  return (target.effective as EffectivePolicy | undefined)?.announce ?? true;
}

const RULE_TEXT = (n: number) => (n > 1 ? `${n} approvers` : '1 approver');

/** One line a person can read: "change: approval ×1 · destructive: 2 approvers · announced · expires 30 min". */
export function describePolicy(p: EffectivePolicy): string {
  const change = p.change.rule === 'approval' ? `change: approval ×${p.change.quorum}` : 'change: auto';
  const parts = [change, `destructive: ${RULE_TEXT(p.destructive.quorum)}`, p.announce ? 'announced' : 'not announced', `expires ${p.expiryMinutes} min`];
  if (p.basis === 'strictest') parts.push('environment not in policy: strictest rule applied');
  return parts.join(' · ');
}
