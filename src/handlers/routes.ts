import type { AllMiddlewareArgs, AnyMiddlewareArgs, App, Middleware, SlackAction, SlackActionMiddlewareArgs, SlackCommandMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';

type Handler = (args: never) => Promise<void> | void;

/**
 * Slash-command, action and view-submission handlers by name or id, mounted on Bolt as one global
 * middleware that looks the handler up. Bolt runs every registered listener's middleware chain for
 * every request (copying its arguments each time), so each listener costs every ack; with none
 * registered that phase does nothing, and a lookup costs next to nothing.
 * Anything without a handler here goes on down Bolt's chain unchanged (and ends unhandled there).
 */
export class Routes {
  readonly #commands = new Map<string, Handler>();
  readonly #actions = new Map<string, Handler>();
  readonly #views = new Map<string, Handler>();

  command(name: string, fn: Middleware<SlackCommandMiddlewareArgs>): void {
    Routes.#add(this.#commands, name, fn, 'command');
  }

  action<A extends SlackAction>(actionId: string, fn: Middleware<SlackActionMiddlewareArgs<A>>): void {
    Routes.#add(this.#actions, actionId, fn, 'action');
  }

  /** View submissions only (a closed view is not a submission). */
  view(callbackId: string, fn: Middleware<SlackViewMiddlewareArgs>): void {
    Routes.#add(this.#views, callbackId, fn, 'view');
  }

  mount(app: InstanceType<typeof App>): void {
    app.use(async (args) => {
      const fn = this.#handlerFor(args);
      return fn ? fn(args as never) : args.next();
    });
  }

  #handlerFor(args: AnyMiddlewareArgs & AllMiddlewareArgs): Handler | undefined {
    if ('command' in args && args.command) return this.#commands.get(args.command.command);
    // Bolt puts the first of a payload's actions here, as its action listeners get it.
    if ('action' in args && args.action) return this.#actions.get((args.action as { action_id?: string }).action_id ?? '');
    if ('view' in args && args.view && args.body.type === 'view_submission') return this.#views.get(args.view.callback_id);
    return undefined;
  }

  static #add(map: Map<string, Handler>, key: string, fn: unknown, what: string): void {
    if (map.has(key)) throw new Error(`${what} ${key} registered twice`);
    map.set(key, fn as Handler);
  }
}
