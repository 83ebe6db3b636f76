import { ProviderError } from './errors.js';
import type { Capability } from './provider.js';
import type { ProviderEngine } from './types.js';

/** What each engine can do today: the providers use these sets, and help derives the matrix from them without building clients. */
export const ENGINE_CAPABILITIES: Readonly<Record<ProviderEngine, ReadonlySet<Capability>>> = {
  'aws-rds': new Set<Capability>(['snapshot', 'list', 'window', 'verify', 'restore', 'pitr', 'rename', 'failover', 'retention']),
  'aws-aurora': new Set<Capability>(['snapshot', 'list', 'window', 'verify', 'restore', 'pitr', 'rename', 'failover', 'scale', 'retention']),
  // No 'rename': a flexible server cannot be renamed; the cutover reports the connection-string change instead.
  'azure-flexible': new Set<Capability>(['snapshot', 'list', 'window', 'verify', 'restore', 'pitr', 'failover', 'retention']),
  'self-hosted': new Set<Capability>(['snapshot', 'list', 'window', 'prune', 'verify', 'restore']),
};

/** Refuses a verb before a run starts: "not on azure-flexible: …" instead of a failure mid-run. */
export function requireCapability(engine: ProviderEngine, cap: Capability, verb: string): void {
  if (ENGINE_CAPABILITIES[engine].has(cap)) return;
  const can = [...ENGINE_CAPABILITIES[engine]].join(', ');
  throw new ProviderError(engine, 'unsupported', `\`${verb}\` is not on ${engine}: this engine supports ${can}.`);
}
