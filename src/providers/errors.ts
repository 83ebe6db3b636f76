import { DbopsError } from '../errors.js';
import type { ProviderEngine } from './types.js';

/**
 * What went wrong at the engine, in words a runbook can act on. `failed`: the engine ran the
 * operation and reported failure; `unsupported`: the engine cannot do this verb at all.
 */
export type ProviderErrorCode = 'not_found' | 'access_denied' | 'wrong_state' | 'already_exists' | 'throttled' | 'unavailable' | 'failed' | 'unsupported';

/**
 * A DbopsError (code `provider`) so `userMessageOf` shows `userMessage` as is. The user message says
 * what to check and never carries a host, ARN secret or credential: engine detail goes to `message`
 * (operators' logs, which are redacted).
 */
export class ProviderError extends DbopsError {
  readonly reason: ProviderErrorCode;
  readonly engine: ProviderEngine;
  constructor(engine: ProviderEngine, reason: ProviderErrorCode, userMessage: string, opts?: { cause?: unknown; detail?: string }) {
    super('provider', userMessage, opts);
    this.name = 'ProviderError';
    this.reason = reason;
    this.engine = engine;
  }
}

export function isProviderError(err: unknown, reason?: ProviderErrorCode): err is ProviderError {
  return err instanceof ProviderError && (reason === undefined || err.reason === reason);
}
