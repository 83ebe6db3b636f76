import { ProviderError, type ProviderErrorCode } from './errors.js';

const ENGINE = 'azure-flexible' as const;

const HINTS: Record<Exclude<ProviderErrorCode, 'unsupported'>, (what: string, code: string) => string> = {
  not_found: (w) => `Azure says ${w} does not exist. Check azure.subscription, azure.resourceGroup and azure.server of the target in the targets file.`,
  access_denied: (w) => `Azure refused access to ${w}. Check the bot's Azure identity (DefaultAzureCredential: managed identity, workload identity or AZURE_* variables) and that its role on the server allows backups.`,
  wrong_state: (w, c) => `${w} cannot do this right now (${c}): another operation may be running on it, or it is stopped. Check its state with \`/db status\` and retry.`,
  already_exists: (w) => `A backup with that name already exists on ${w}. Choose another --name.`,
  throttled: (w) => `Azure kept throttling requests for ${w} after several retries. Retry in a minute.`,
  unavailable: (w) => `Azure could not be reached or answered with a server error for ${w} after several retries. Check the Azure status and the bot's network, then retry.`,
  failed: (w, c) => `Azure reported that the operation on ${w} failed (${c}). Check the server's activity log in the Azure portal.`,
};

/** The code core-lro puts in "The long-running operation has failed. CODE. message". */
function lroFailureCode(message: string): string | undefined {
  const m = /^The long-running operation has failed(?:\. ([^.\s]+)\.)?/.exec(message);
  return m ? m[1] ?? 'no error code given' : undefined;
}

/**
 * Turns an Azure SDK error into a ProviderError. RestError carries `statusCode` and the body's
 * `code`; a failed LRO is a plain Error whose message holds the code; identity errors have names.
 * Azure's own message (resource ids, correlation ids) stays in `detail`.
 */
export function azureError(what: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as { name?: string; code?: string; statusCode?: number; message?: string };
  const message = e.message ?? String(err);
  const detail = `${e.name ?? 'Error'}${e.statusCode ? ` (HTTP ${e.statusCode})` : ''}${e.code ? ` ${e.code}` : ''}: ${message}`;
  const make = (code: Exclude<ProviderErrorCode, 'unsupported'>, c = e.code ?? `HTTP ${e.statusCode ?? '?'}`) => new ProviderError(ENGINE, code, HINTS[code](what, c), { cause: err, detail });
  const lro = lroFailureCode(message);
  if (lro) return make('failed', lro);
  if (e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationError' || e.name === 'AggregateAuthenticationError') return make('access_denied');
  const s = e.statusCode;
  if (s === 401 || s === 403) return make('access_denied');
  if (s === 404) return make('not_found');
  if (s === 409) return /AlreadyExists/i.test(e.code ?? '') ? make('already_exists') : make('wrong_state');
  if (s === 429) return make('throttled');
  if ((s !== undefined && s >= 500) || e.code === 'REQUEST_SEND_ERROR' || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND/.test(e.code ?? '')) return make('unavailable');
  return make('failed');
}
