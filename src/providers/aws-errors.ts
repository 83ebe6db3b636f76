import { ProviderError, type ProviderErrorCode } from './errors.js';
import type { ProviderEngine } from './types.js';

/** What the user should check, per failure kind; `what` names the resource ("DB instance orders-prod"). */
const HINTS: Record<Exclude<ProviderErrorCode, 'unsupported' | 'failed'>, (what: string) => string> = {
  not_found: (w) => `AWS says ${w} does not exist. Check the aws section of the target in the targets file (identifier and region).`,
  access_denied: (w) => `AWS refused access to ${w}. Check the bot's AWS credentials and that its IAM policy (or aws.roleArn) allows this RDS action.`,
  wrong_state: (w) => `${w} is not in a state that allows this right now (e.g. it is being modified, backed up or is stopped). Check its status with \`/db status\` and retry when it is available.`,
  already_exists: (w) => `A snapshot with that name already exists for another source than ${w}. Choose another --name.`,
  throttled: (w) => `AWS kept throttling requests for ${w} after several retries. Retry in a minute.`,
  unavailable: (w) => `AWS could not be reached or answered with a server error for ${w} after several retries. Check the AWS status and the bot's network, then retry.`,
};

function classify(name: string, status: number | undefined): Exclude<ProviderErrorCode, 'unsupported' | 'failed'> | undefined {
  if (/NotFound/.test(name)) return 'not_found';
  if (/AccessDenied|NotAuthorized|Unauthorized|AuthFailure|InvalidClientTokenId|ExpiredToken|UnrecognizedClient|SignatureDoesNotMatch|CredentialsProviderError|InvalidAccessKeyId/.test(name)) return 'access_denied';
  if (/^Invalid.*State/.test(name)) return 'wrong_state';
  if (/AlreadyExists/.test(name)) return 'already_exists';
  if (/Throttl|RequestLimitExceeded|TooManyRequests|SlowDown/.test(name) || status === 429) return 'throttled';
  if (status === 403) return 'access_denied';
  if (status === 404) return 'not_found';
  if ((status !== undefined && status >= 500) || /TimeoutError|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|NetworkingError/.test(name)) return 'unavailable';
  return undefined;
}

/**
 * Turns an AWS SDK error (already retried by the SDK for throttling/5xx) into a ProviderError with a
 * plain user message. The SDK's own message (ARNs, account ids, request ids) stays in `detail`.
 */
export function awsError(engine: ProviderEngine, what: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name && e.name !== 'Error' ? e.name : e.code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const detail = `${name}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
  const code = classify(name, status);
  if (code) return new ProviderError(engine, code, HINTS[code](what), { cause: err, detail });
  return new ProviderError(engine, 'failed', `AWS rejected the request for ${what} (${name}). Details are in the bot logs.`, { cause: err, detail });
}
