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
  | 'needs_approval'
  | 'approval_refused'
  | 'plan_changed'
  | 'too_many_sessions'
  | 'config'
  | 'conflict'
  | 'provider'
  | 'internal';

export class DbopsError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  constructor(code: ErrorCode, userMessage: string, opts?: { cause?: unknown; detail?: string }) {
    super(opts?.detail ?? userMessage, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DbopsError';
    this.code = code;
    this.userMessage = userMessage;
  }
}

export const badInput = (msg: string) => new DbopsError('bad_input', msg);

/** The message a Slack user sees for any thrown value: never a stack trace. */
export function userMessageOf(err: unknown): string {
  if (err instanceof DbopsError) return err.userMessage;
  return 'Something went wrong inside dbops. The error is in the bot logs; try again or ask the dbops operators.';
}
