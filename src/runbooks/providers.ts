/**
 * How runbooks reach a target's engine. One seam so a process can hand the provider layer clients
 * it builds itself (tests: the ARM fake's endpoint and CA; a custom endpoint in production) without
 * every runbook threading them through; by default the ecosystem's clients (see providers/index.ts).
 */
import type { Target } from '../config.js';
import { providerFor, requireCapability, type Capability, type Provider, type ProviderDeps } from '../providers/index.js';

let deps: ProviderDeps = {};

/** Process-wide: every provider built afterwards uses these clients/options. */
export function setProviderDeps(d: ProviderDeps): void {
  deps = d;
}

export function providerOf(target: Target): Provider {
  return providerFor(target, deps);
}

/**
 * At request time: refuses a verb the engine cannot do ("not on azure-flexible: …") and a target
 * whose file entry lacks what the engine needs, so neither becomes a failure mid-run.
 */
export function checkedProvider(target: Target, cap: Capability, verb: string): Provider {
  requireCapability(target.engine, cap, verb);
  return providerOf(target);
}
