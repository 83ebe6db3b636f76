import type { App, Middleware, SlackAction, SlackActionMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';

type Handler = (args: never) => Promise<void> | void;

const exactly = (ids: Iterable<string>) => new RegExp(`^(?:${[...ids].map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);

/**
 * Action and view-submission handlers by id, mounted on Bolt as one action listener and one view
 * listener. Bolt runs every registered listener's middleware chain for every request (copying its
 * arguments each time), so each extra listener costs every slash command's ack; a lookup does not.
 */
export class Routes {
  readonly #actions = new Map<string, Handler>();
  readonly #views = new Map<string, Handler>();

  action<A extends SlackAction>(actionId: string, fn: Middleware<SlackActionMiddlewareArgs<A>>): void {
    if (this.#actions.has(actionId)) throw new Error(`action ${actionId} registered twice`);
    this.#actions.set(actionId, fn as Handler);
  }

  view(callbackId: string, fn: Middleware<SlackViewMiddlewareArgs>): void {
    if (this.#views.has(callbackId)) throw new Error(`view ${callbackId} registered twice`);
    this.#views.set(callbackId, fn as Handler);
  }

  mount(app: InstanceType<typeof App>): void {
    if (this.#actions.size) {
      app.action({ action_id: exactly(this.#actions.keys()) }, async (args) => {
        const id = (args.action as { action_id?: string }).action_id;
        await this.#actions.get(id ?? '')?.(args as never);
      });
    }
    if (this.#views.size) {
      app.view({ callback_id: exactly(this.#views.keys()), type: 'view_submission' }, async (args) => {
        await this.#views.get(args.view.callback_id)?.(args as never);
      });
    }
  }
}
