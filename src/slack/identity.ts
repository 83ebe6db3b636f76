import type { WebClient } from '@slack/web-api';
import type { Logger } from '../log.js';

export interface BotAuthorization {
  botToken: string;
  botId?: string;
  botUserId?: string;
}

/**
 * Bolt's `authorize` for our single workspace, resolving the bot's identity once.
 *
 * Bolt 5.1's built-in single-workspace authorize re-runs `auth.test` on every request when
 * `tokenVerificationEnabled` is false (its cache variable is reassigned per call), which costs a
 * Slack round trip before every handler and spends a rate-limited method. Here the first request
 * (or the warm-up at start) asks once and everyone shares the answer; a failure is not cached, so
 * start-up never depends on Slack being reachable and the next request simply asks again.
 */
export function onceAuthorize(client: WebClient, botToken: string, log: Logger): { authorize: () => Promise<BotAuthorization>; warmUp: () => void } {
  let identity: Promise<{ botId?: string; botUserId?: string }> | undefined;
  const resolve = () =>
    (identity ??= client.auth.test({ token: botToken }).then(
      (r) => ({ ...(r.bot_id ? { botId: r.bot_id } : {}), ...(r.user_id ? { botUserId: r.user_id } : {}) }),
      (err: Error) => {
        identity = undefined;
        log.warn({ err: err.message }, 'auth.test failed; the bot identity is resolved on a later request');
        return {};
      },
    ));
  return {
    authorize: async () => ({ botToken, ...(await resolve()) }),
    warmUp: () => void resolve(),
  };
}
