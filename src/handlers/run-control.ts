import type { BlockButtonAction } from '@slack/bolt';
import type { Routes } from './routes.js';
import { ABORT_CONFIRM_ACTION, abortMeta, confirmAbort } from '../jobs/abort.js';
import { userError } from '../slack/messages.js';
import { slackUserId } from '../slack/metadata.js';
import type { HandlerDeps } from './deps.js';
import { respondWith } from './reply.js';
import { replayedElsewhere } from './replay-gate.js';

/**
 * The Confirm button of `/db run <id> abort`. Its value is sealed for the run and the person it was
 * shown to: a forged click, someone else's click, or a stale button (older than a day) removes nothing.
 */
export function registerRunControl(routes: Routes, deps: HandlerDeps): void {
  routes.action<BlockButtonAction>(ABORT_CONFIRM_ACTION, async ({ ack, action, body, respond, context }) => {
    await ack();
    const user = body.user.id;
    const log = deps.log.child({ user, action: ABORT_CONFIRM_ACTION });
    if (await replayedElsewhere(context, log)) return;
    const meta = deps.metadata.open('abort', action.value, abortMeta);
    if (!meta || meta.user !== user || !slackUserId.safeParse(user).success) {
      log.warn('abort confirmation refused: not sealed for this user');
      return await respondWith(respond, userError('This Confirm button is not yours, or is too old. Run `/db run <id> abort` again.'), 'ephemeral', log);
    }
    try {
      await respondWith(respond, await confirmAbort(deps, meta.runId, user), 'ephemeral', log);
    } catch (err) {
      log.error({ runId: meta.runId, err: (err as Error).message }, 'abort failed');
      await respondWith(respond, userError('Could not abort the run (internal error). Nothing more was removed; try again in a moment.'), 'ephemeral', log);
    }
  });
}
