// One stored message (see sandbox/fake-slack/types.ts StoredMessage) → a vnode shaped like a
// Slack message: author, time, ephemeral note, blocks (or text), legacy attachments, replies.
import { renderBlocks } from './blockkit.js';
import { mrkdwn } from './mrkdwn.js';
import { h } from './vnode.js';

export const BOT_USER_ID = 'UBOT';

/** Seconds of a Slack ts as a local HH:MM. */
export function timeOf(ts) {
  const d = new Date(Number(ts) * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/**
 * @param {Record<string, any>} msg
 * @param {import('./blockkit.js').RenderContext} ctx
 * @param {{ inThread?: boolean }} [opts]
 */
export function renderMessage(msg, ctx, opts = {}) {
  const fromBot = msg.user === BOT_USER_ID;
  const name = fromBot ? 'dbops' : ctx.users?.[msg.user]?.name ?? msg.user;
  const hasBlocks = Array.isArray(msg.blocks) && msg.blocks.length > 0;
  const body = hasBlocks ? renderBlocks(msg.blocks, { ...ctx, surface: 'message' }) : [h('div', { class: 'section-text' }, h('span', { class: 'mrkdwn' }, mrkdwn(msg.text ?? '', ctx)))];
  const classes = ['message', fromBot ? 'from-bot' : 'from-user', msg.ephemeralTo ? 'ephemeral' : '', msg.edited ? 'edited' : ''].filter(Boolean).join(' ');
  return h(
    'div',
    { class: classes, 'data-ts': msg.ts, 'data-channel': msg.channel, ...(msg.thread_ts ? { 'data-thread-ts': msg.thread_ts } : {}) },
    h('div', { class: `avatar${fromBot ? ' bot' : ''}` }, fromBot ? '🐘' : name.slice(0, 1).toUpperCase()),
    h(
      'div',
      { class: 'message-main' },
      h(
        'div',
        { class: 'message-meta' },
        h('strong', { class: 'author' }, name),
        fromBot ? h('span', { class: 'app-badge' }, 'APP') : null,
        h('time', { class: 'ts', title: msg.ts }, timeOf(msg.ts)),
        msg.edited ? h('small', { class: 'edited-tag' }, '(edited)') : null,
      ),
      msg.thread_ts && msg.reply_broadcast && !opts.inThread ? h('div', { class: 'broadcast-note' }, 'replied to a thread') : null,
      h('div', { class: 'message-body' }, body, attachments(msg.attachments, ctx)),
      msg.ephemeralTo ? h('div', { class: 'ephemeral-note' }, '👁 Only visible to you') : null,
      !opts.inThread && msg.replyCount > 0
        ? h('button', { type: 'button', class: 'replies', 'data-open-thread': msg.ts }, `${msg.replyCount} ${msg.replyCount === 1 ? 'reply' : 'replies'}`)
        : null,
    ),
  );
}

/** Legacy attachments: a coloured bar with text/fields/blocks. */
function attachments(list, ctx) {
  if (!Array.isArray(list)) return null;
  return list.map((a, i) =>
    h(
      'div',
      { class: `attachment color-${/^(good|warning|danger)$/.test(a?.color) ? a.color : 'default'}` },
      a?.title ? h('strong', {}, String(a.title)) : null,
      a?.text ? h('div', { class: 'mrkdwn' }, mrkdwn(String(a.text), ctx)) : null,
      Array.isArray(a?.fields) ? a.fields.map((f) => h('div', { class: 'field' }, h('strong', {}, String(f.title ?? '')), h('div', {}, mrkdwn(String(f.value ?? ''), ctx)))) : null,
      Array.isArray(a?.blocks) ? renderBlocks(a.blocks, { ...ctx, surface: 'message' }, `/attachments/${i}/blocks`) : null,
    ),
  );
}
