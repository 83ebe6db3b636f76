// views.open / views.push / views.update: modals, bound to single-use trigger_ids.
import { str } from '../body.js';
import { viewErrors } from '../validate.js';
import type { ApiHandler } from './context.js';
import { fail } from './context.js';

function viewArg(args: Record<string, unknown>): Record<string, unknown> | string[] {
  const errors = viewErrors(args.view);
  return errors.length > 0 ? errors : (args.view as Record<string, unknown>);
}

export const open: ApiHandler = (args, ctx) => {
  const trigger = ctx.viewStore.exchange(str(args.trigger_id) || undefined);
  if ('error' in trigger) return fail(trigger.error, trigger.error === 'invalid_arguments' ? ['[ERROR] missing required field: trigger_id'] : undefined);
  const view = viewArg(args);
  if (Array.isArray(view)) return fail('invalid_arguments', view);
  return { ok: true, view: ctx.viewStore.open(view, trigger.user).view };
};

export const push: ApiHandler = (args, ctx) => {
  const trigger = ctx.viewStore.exchange(str(args.trigger_id) || undefined);
  if ('error' in trigger) return fail(trigger.error);
  const view = viewArg(args);
  if (Array.isArray(view)) return fail('invalid_arguments', view);
  const pushed = ctx.viewStore.push(view, trigger.user, trigger.viewId);
  return 'error' in pushed ? fail(pushed.error) : { ok: true, view: pushed.view };
};

export const update: ApiHandler = (args, ctx) => {
  const viewId = str(args.view_id) || undefined;
  const externalId = str(args.external_id) || undefined;
  if (!viewId && !externalId) return fail('invalid_arguments', ['[ERROR] view_id or external_id is required']);
  const view = viewArg(args);
  if (Array.isArray(view)) return fail('invalid_arguments', view);
  const updated = ctx.viewStore.update({ viewId, externalId, hash: str(args.hash) || undefined }, view);
  return 'error' in updated ? fail(updated.error) : { ok: true, view: updated.view };
};
