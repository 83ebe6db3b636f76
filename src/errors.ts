/**
 * Typed errors. Every error a user can cause or see carries a `userMessage` safe to show in Slack
 * (what went wrong and what to do); `message` is for operators' logs (already redacted by the logger).
 */
export type ErrorCode =
  | 'bad_input'
  | 'unknown_verb'
  | 'unknown_target'
  | 'not_found'
  | 'target_unreachable'
  | 'target_timeout'
  | 'target_busy'
  | 'rate_limited'
  | 'needs_approval'
  | 'approval_refused'
  | 'plan_changed'
  | 'too_many_sessions'
  | 'config'
  | 'conflict'
  | 'provider'
  | 'internal';

/** A mistyped command's error is answered in the ack; its stack says nothing and costs ~40 µs to capture. */
const INPUT_ERRORS: ReadonlySet<ErrorCode> = new Set(['bad_input', 'unknown_verb', 'unknown_target']);

export class DbopsError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  constructor(code: ErrorCode, userMessage: string, opts?: { cause?: unknown; detail?: string }) {
    const limit = Error.stackTraceLimit;
    if (INPUT_ERRORS.has(code)) Error.stackTraceLimit = 0;
    try {
      super(opts?.detail ?? userMessage, opts?.cause === undefined ? undefined : { cause: opts.cause });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'DbopsError';
    this.code = code;
    this.userMessage = userMessage;
  }
}

export const badInput = (msg: string) => new DbopsError('bad_input', msg);

/** PostgreSQL errors a user can act on, by SQLSTATE (pg errors carry `code` and `severity`). */
const PG_MESSAGES: Record<string, string> = {
  '57014': 'The target database did not answer within the statement timeout, so the query was cancelled. It may be overloaded: try `/db connections` or `/db locks`, or retry in a moment.',
  '55P03': 'Could not get a lock within lock_timeout: another session holds a conflicting lock. See `/db locks` and try again.',
  '53300': 'The target has no free connection slots (too many connections). Give the bot a superuser-reserved slot or a dedicated role with reserved connections, or free slots from another client.',
  '42501': "The bot's database role lacks a privilege this needs (e.g. pg_monitor, pg_signal_backend, or table ownership). Ask the DBA to grant it.",
  '25006': 'The target is read-only (a standby or in recovery); run this against the primary.',
  '57P01': 'The target database is shutting down or restarting. Retry once it is back.',
  '40P01': 'A deadlock was detected and this statement was chosen to abort. Retry.',
};

/** The message a Slack user sees for any thrown value: never a stack trace. */
export function userMessageOf(err: unknown): string {
  if (err instanceof DbopsError) return err.userMessage;
  const e = err as { code?: unknown; severity?: unknown } | null;
  if (e && typeof e.code === 'string' && typeof e.severity === 'string') {
    return PG_MESSAGES[e.code] ?? `The target database refused the operation (SQLSTATE ${e.code}). Details are in the bot logs.`;
  }
  return 'Something went wrong inside dbops. The error is in the bot logs; try again or ask the dbops operators.';
}
