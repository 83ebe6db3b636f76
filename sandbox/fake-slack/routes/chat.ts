// chat.* methods: messages, thread replies, ephemerals, edits, deletes, permalinks.
import { bool, str } from '../body.js';
import { toSlackMessage } from '../store.js';
import { BOT_USER_ID } from '../types.js';
import { blockErrors } from '../validate.js';
import type { ApiContext, ApiHandler } from './context.js';
import { fail } from './context.js';

/** Accepts a channel id, or "#name" resolved through the configured channels. */
function resolveChannel(ctx: ApiContext, channel: string | undefined): string | undefined {
  if (!channel) return undefined;
  if (!channel.startsWith('#')) return channel;
  return [...ctx.channels].find(([, name]) => `#${name}` === channel)?.[0];
}

function contentErrors(args: Record<string, unknown>): ReturnType<typeof fail> | undefined {
  const text = str(args.text);
  if (!text && args.blocks === undefined && args.attachments === undefined) return fail('no_text');
  const errors = blockErrors(args.blocks);
  if (errors.length > 0) return fail(Array.isArray(args.blocks) ? 'invalid_blocks' : 'invalid_blocks_format', errors);
  return undefined;
}

const arr = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);

/**
 * What postMessage and postEphemeral share: channel lookup, content checks, the thread. Returns the
 * failure to answer, or the message fields to store.
 */
function incoming(args: Record<string, unknown>, ctx: ApiContext): { error: ReturnType<typeof fail> } | { channel: string; text: string; blocks: unknown[]; thread_ts: string | undefined } {
  const channel = resolveChannel(ctx, str(args.channel));
  if (!channel) return { error: fail('channel_not_found') };
  const invalid = contentErrors(args);
  if (invalid) return { error: invalid };
  return { channel, text: str(args.text) ?? '', blocks: arr(args.blocks) ?? [], thread_ts: str(args.thread_ts) || undefined };
}

export const postMessage: ApiHandler = (args, ctx) => {
  const m = incoming(args, ctx);
  if ('error' in m) return m.error;
  const { channel, text, blocks, thread_ts } = m;
  const stored = ctx.store.add({
    channel,
    user: BOT_USER_ID,
    text,
    blocks,
    ...(arr(args.attachments) ? { attachments: arr(args.attachments) } : {}),
    ...(thread_ts ? { thread_ts, ...(bool(args.reply_broadcast) ? { reply_broadcast: true } : {}) } : {}),
  });
  return { ok: true, channel, ts: stored.ts, message: toSlackMessage(stored) };
};

export const postEphemeral: ApiHandler = (args, ctx) => {
  // Slack checks the user before the content.
  if (resolveChannel(ctx, str(args.channel)) && !str(args.user)) return fail('user_not_in_channel');
  const m = incoming(args, ctx);
  if ('error' in m) return m.error;
  const { channel, text, blocks, thread_ts } = m;
  const stored = ctx.store.add({ channel, user: BOT_USER_ID, text, blocks, ephemeralTo: str(args.user)!, ...(thread_ts ? { thread_ts } : {}) });
  return { ok: true, message_ts: stored.ts };
};

export const update: ApiHandler = (args, ctx) => {
  const channel = resolveChannel(ctx, str(args.channel));
  const ts = str(args.ts);
  // Ephemeral messages cannot be edited through chat.update on real Slack either (only response_url).
  const current = channel && ts ? ctx.store.find(channel, ts) : undefined;
  if (!channel || !ts || !current || current.ephemeralTo !== undefined) return fail('message_not_found');
  if (current.user !== BOT_USER_ID) return fail('cant_update_message');
  if (args.blocks !== undefined) {
    const errors = blockErrors(args.blocks);
    if (errors.length > 0) return fail('invalid_blocks', errors);
  }
  const updated = ctx.store.update(channel, ts, {
    ...(str(args.text) !== undefined ? { text: str(args.text) } : {}),
    ...(arr(args.blocks) ? { blocks: arr(args.blocks) } : {}),
    ...(arr(args.attachments) ? { attachments: arr(args.attachments) } : {}),
  })!;
  return { ok: true, channel, ts, text: updated.text, message: toSlackMessage(updated) };
};

export const remove: ApiHandler = (args, ctx) => {
  const channel = resolveChannel(ctx, str(args.channel));
  const ts = str(args.ts);
  const current = channel && ts ? ctx.store.find(channel, ts) : undefined;
  if (!channel || !ts || !current || current.ephemeralTo !== undefined) return fail('message_not_found');
  ctx.store.remove(channel, ts);
  return { ok: true, channel, ts };
};

export const getPermalink: ApiHandler = (args, ctx) => {
  const channel = resolveChannel(ctx, str(args.channel));
  const ts = str(args.message_ts);
  const message = channel && ts ? ctx.store.find(channel, ts) : undefined;
  if (!channel || !ts) return fail('channel_not_found');
  if (!message || message.ephemeralTo !== undefined) return fail('message_not_found');
  const base = `${ctx.baseUrl}/archives/${channel}/p${ts.replace('.', '')}`;
  const permalink = message.thread_ts !== undefined && message.thread_ts !== ts ? `${base}?thread_ts=${message.thread_ts}&cid=${channel}` : base;
  return { ok: true, channel, permalink };
};
