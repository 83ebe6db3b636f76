import type { RespondFn } from '@slack/bolt';
import { DbopsError, userMessageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { userError, type Message } from '../slack/messages.js';

export async function respondWith(respond: RespondFn, message: Message, visibility: 'ephemeral' | 'in_channel' = 'ephemeral', log?: Logger): Promise<void> {
  try {
    await respond({ response_type: visibility, replace_original: false, text: message.text, blocks: message.blocks as never });
  } catch (err) {
    // response_url is single-purpose and time-limited (5 uses / 30 min): log and move on.
    log?.warn({ err: (err as Error).message }, 'respond() failed');
  }
}

/** Users see what went wrong and what to do; operators get the detail in the (redacted) logs. */
export async function respondError(respond: RespondFn, log: Logger, err: unknown, context: Record<string, unknown> = {}): Promise<void> {
  if (err instanceof DbopsError) log.info({ ...context, code: err.code, detail: err.message }, 'request refused');
  else log.error({ ...context, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'request failed');
  await respondWith(respond, userError(userMessageOf(err)), 'ephemeral', log);
}
