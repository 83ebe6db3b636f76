// Block Kit → vnodes, for messages and modals. Pure (no DOM): the page and the render test use
// the same code. Anything this renderer does not know, or a block missing a required field, is
// reported in ctx.errors (and shown as a red placeholder) instead of being silently dropped.
import { emoji, leafText, mrkdwn } from './mrkdwn.js';
import { h, safeHref } from './vnode.js';

/**
 * @typedef {{
 *   users?: Record<string, {name: string}>, channels?: Record<string, string>, now?: number,
 *   surface?: 'message' | 'modal', fieldErrors?: Record<string, string>, errors: string[]
 * }} RenderContext
 */

/** Renders a block list; problems are appended to ctx.errors with a JSON-pointer-ish path. */
export function renderBlocks(blocks, ctx, path = '/blocks') {
  if (!Array.isArray(blocks)) {
    ctx.errors.push(`${path}: blocks must be an array`);
    return [];
  }
  return blocks.map((b, i) => renderBlock(b, ctx, `${path}/${i}`, i));
}

/** A modal: title, close, blocks with inputs, submit. */
export function renderView(view, ctx) {
  const c = { ...ctx, surface: 'modal' };
  const title = view?.title ? textObject(view.title, c, '/view/title', { plainOnly: true }) : missing(c, '/view/title', 'title');
  const blocks = renderBlocks(view?.blocks ?? [], c, '/view/blocks');
  const hasInputs = (view?.blocks ?? []).some((b) => b && b.type === 'input');
  if (hasInputs && !view?.submit) ctx.errors.push('/view/submit: a modal with input blocks needs a submit button');
  const closeText = view?.close ? textObject(view.close, c, '/view/close', { plainOnly: true }) : 'Cancel';
  return h(
    'form',
    { class: 'modal', 'data-view-id': view?.id ?? '', 'data-callback-id': view?.callback_id ?? '' },
    h('div', { class: 'modal-header' }, h('h2', {}, title), h('button', { type: 'button', class: 'modal-x', 'data-modal': 'close', title: 'Close' }, '×')),
    h('div', { class: 'modal-body' }, blocks),
    h(
      'div',
      { class: 'modal-footer' },
      h('button', { type: 'button', class: 'btn', 'data-modal': 'close' }, closeText),
      view?.submit ? h('button', { type: 'submit', class: 'btn btn-primary', 'data-modal': 'submit' }, textObject(view.submit, c, '/view/submit', { plainOnly: true })) : null,
    ),
  );
}

/** Slack invents ids for blocks/elements sent without one; the sandbox server uses the same rule. */
export const blockIdOf = (b, index) => (typeof b?.block_id === 'string' ? b.block_id : `auto_${index}`);
export const actionIdOf = (e, blockId) => (typeof e?.action_id === 'string' ? e.action_id : `${blockId}_action`);

function renderBlock(b, ctx, path, index) {
  if (!b || typeof b !== 'object') return unknown(ctx, path, 'block is not an object');
  const blockId = blockIdOf(b, index);
  const wrap = (cls, ...children) => h('div', { class: `block ${cls}`, 'data-block-id': blockId, 'data-block-type': b.type }, children);
  switch (b.type) {
    case 'section':
      return wrap('section', section(b, ctx, path, blockId));
    case 'header':
      return wrap('header', h('h3', {}, textObject(b.text, ctx, `${path}/text`, { plainOnly: true, max: 150 })));
    case 'divider':
      return wrap('divider', h('hr', {}));
    case 'context':
      return wrap('context', contextElements(b, ctx, path));
    case 'actions':
      return wrap('actions', actionElements(b, ctx, path, blockId));
    case 'image':
      return wrap('image', image(b, ctx, path), b.title ? h('div', { class: 'image-title' }, textObject(b.title, ctx, `${path}/title`, { plainOnly: true })) : null);
    case 'input':
      return wrap('input', input(b, ctx, path, blockId));
    case 'rich_text':
      return wrap('rich-text', richText(b.elements, ctx, `${path}/elements`));
    default:
      return unknown(ctx, path, `unknown block type "${String(b.type)}"`);
  }
}

function section(b, ctx, path, blockId) {
  if (b.text === undefined && b.fields === undefined) ctx.errors.push(`${path}: section needs text or fields`);
  const out = [];
  if (b.text !== undefined) out.push(h('div', { class: 'section-text' }, textObject(b.text, ctx, `${path}/text`, { max: 3000 })));
  if (b.fields !== undefined) {
    if (!Array.isArray(b.fields) || b.fields.length > 10) ctx.errors.push(`${path}/fields: at most 10 fields`);
    const fields = (Array.isArray(b.fields) ? b.fields : []).map((f, i) => h('div', { class: 'field' }, textObject(f, ctx, `${path}/fields/${i}`, { max: 2000 })));
    out.push(h('div', { class: 'fields' }, fields));
  }
  const body = h('div', { class: 'section-body' }, out);
  if (!b.accessory) return body;
  const accessory = b.accessory.type === 'image' ? image(b.accessory, ctx, `${path}/accessory`) : element(b.accessory, ctx, `${path}/accessory`, blockId);
  return h('div', { class: 'section-with-accessory' }, body, h('div', { class: 'accessory' }, accessory));
}

function contextElements(b, ctx, path) {
  const elements = Array.isArray(b.elements) ? b.elements : [];
  if (elements.length === 0 || elements.length > 10) ctx.errors.push(`${path}/elements: 1 to 10 elements`);
  return elements.map((e, i) => {
    const at = `${path}/elements/${i}`;
    if (e?.type === 'image') return image(e, ctx, at, 'context-image');
    return h('span', { class: 'context-item' }, textObject(e, ctx, at));
  });
}

function actionElements(b, ctx, path, blockId) {
  const elements = Array.isArray(b.elements) ? b.elements : [];
  if (elements.length === 0 || elements.length > 25) ctx.errors.push(`${path}/elements: 1 to 25 elements`);
  return elements.map((e, i) => element(e, ctx, `${path}/elements/${i}`, blockId, true));
}

function input(b, ctx, path, blockId) {
  if (ctx.surface !== 'modal') ctx.errors.push(`${path}: input blocks belong in modals`);
  const label = b.label ? textObject(b.label, ctx, `${path}/label`, { plainOnly: true, max: 2000 }) : missing(ctx, `${path}/label`, 'label');
  const error = ctx.fieldErrors?.[blockId];
  return [
    h('label', { class: 'input-label' }, label, b.optional ? h('span', { class: 'optional' }, ' (optional)') : null),
    b.element ? element(b.element, ctx, `${path}/element`, blockId, Boolean(b.dispatch_action)) : missing(ctx, `${path}/element`, 'element'),
    b.hint ? h('div', { class: 'hint' }, textObject(b.hint, ctx, `${path}/hint`, { plainOnly: true })) : null,
    error ? h('div', { class: 'field-error', role: 'alert' }, error) : null,
  ];
}

/** Interactive elements. `dispatch`: a change is sent as block_actions right away (actions blocks). */
function element(e, ctx, path, blockId, dispatch = false) {
  if (!e || typeof e !== 'object') return unknown(ctx, path, 'element is not an object');
  const id = { 'data-block-id': blockId, 'data-action-id': actionIdOf(e, blockId), 'data-type': e.type, ...(dispatch ? { 'data-dispatch': 'true' } : {}) };
  const placeholder = e.placeholder ? plainString(e.placeholder) : undefined;
  switch (e.type) {
    case 'button':
      return button(e, ctx, path, id);
    case 'static_select':
    case 'multi_static_select':
    case 'overflow':
      return select(e, ctx, path, id, placeholder);
    case 'users_select':
    case 'conversations_select':
    case 'channels_select':
      return directorySelect(e, ctx, id, placeholder);
    case 'plain_text_input':
      return e.multiline
        ? h('textarea', { ...id, class: 'text-input', rows: 4, value: e.initial_value ?? '', placeholder, maxlength: e.max_length })
        : h('input', { ...id, class: 'text-input', type: 'text', value: e.initial_value ?? '', placeholder, maxlength: e.max_length });
    case 'number_input':
      return h('input', { ...id, class: 'text-input', type: 'number', step: e.is_decimal_allowed ? 'any' : '1', value: e.initial_value ?? '', min: e.min_value, max: e.max_value, placeholder });
    case 'email_text_input':
    case 'url_text_input':
      return h('input', { ...id, class: 'text-input', type: e.type === 'email_text_input' ? 'email' : 'url', value: e.initial_value ?? '', placeholder });
    case 'datepicker':
      return h('input', { ...id, class: 'text-input', type: 'date', value: e.initial_date ?? '' });
    case 'timepicker':
      return h('input', { ...id, class: 'text-input', type: 'time', value: e.initial_time ?? '' });
    case 'checkboxes':
    case 'radio_buttons':
      return choices(e, ctx, path, id);
    default:
      return unknown(ctx, path, `unknown element type "${String(e.type)}"`);
  }
}

function button(e, ctx, path, id) {
  const text = e.text ? textObject(e.text, ctx, `${path}/text`, { plainOnly: true, max: 75 }) : missing(ctx, `${path}/text`, 'text');
  if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger') ctx.errors.push(`${path}/style: must be primary or danger`);
  const cls = `btn${e.style ? ` btn-${e.style}` : ''}`;
  const confirm = e.confirm
    ? {
        'data-confirm-title': plainString(e.confirm.title),
        'data-confirm-text': leafText(e.confirm.text?.text ?? ''),
        'data-confirm-ok': plainString(e.confirm.confirm) || 'Confirm',
        'data-confirm-deny': plainString(e.confirm.deny) || 'Cancel',
      }
    : {};
  const href = e.url ? safeHref(e.url) : undefined;
  return h('button', { ...id, ...confirm, type: 'button', class: cls, 'data-value': e.value, ...(href ? { 'data-url': href } : {}) }, text);
}

function select(e, ctx, path, id, placeholder) {
  const options = flatOptions(e, ctx, path);
  const initial = new Set([e.initial_option?.value, ...(e.initial_options ?? []).map((o) => o.value)].filter((v) => v !== undefined));
  const multiple = e.type === 'multi_static_select';
  const first = multiple ? null : h('option', { value: '', selected: initial.size === 0 }, e.type === 'overflow' ? '⋯' : placeholder ?? 'Select an option');
  return h(
    'select',
    { ...id, class: `select${e.type === 'overflow' ? ' overflow' : ''}`, ...(multiple ? { multiple: true } : {}) },
    first,
    options.map((o) => h('option', { value: o.value, selected: initial.has(o.value) }, o.label)),
  );
}

function flatOptions(e, ctx, path) {
  const groups = Array.isArray(e.option_groups) ? e.option_groups.flatMap((g) => g.options ?? []) : [];
  const options = [...(Array.isArray(e.options) ? e.options : []), ...groups];
  if (options.length === 0) ctx.errors.push(`${path}/options: at least one option`);
  if (options.length > 100) ctx.errors.push(`${path}/options: at most 100 options`);
  return options.map((o, i) => {
    if (typeof o?.value !== 'string') ctx.errors.push(`${path}/options/${i}/value: missing`);
    return { value: String(o?.value ?? ''), label: o?.text ? plainString(o.text) : missing(ctx, `${path}/options/${i}/text`, 'text') };
  });
}

function directorySelect(e, ctx, id, placeholder) {
  const entries = e.type === 'users_select' ? Object.entries(ctx.users ?? {}).map(([k, u]) => [k, u.name]) : Object.entries(ctx.channels ?? {}).map(([k, n]) => [k, `#${n}`]);
  const initial = e.initial_user ?? e.initial_conversation ?? e.initial_channel;
  return h('select', { ...id, class: 'select' }, h('option', { value: '' }, placeholder ?? 'Select'), entries.map(([v, label]) => h('option', { value: v, selected: v === initial }, label)));
}

function choices(e, ctx, path, id) {
  const options = Array.isArray(e.options) ? e.options : [];
  if (options.length === 0 || options.length > 10) ctx.errors.push(`${path}/options: 1 to 10 options`);
  const initial = new Set([e.initial_option?.value, ...(e.initial_options ?? []).map((o) => o.value)].filter((v) => v !== undefined));
  const type = e.type === 'checkboxes' ? 'checkbox' : 'radio';
  const name = `${id['data-block-id']}:${id['data-action-id']}`;
  return h(
    'div',
    { ...id, class: `choices ${type}` },
    options.map((o, i) =>
      h(
        'label',
        { class: 'choice' },
        h('input', { type, name, value: String(o.value ?? ''), checked: initial.has(o.value), 'data-choice': 'true' }),
        h('span', { class: 'choice-text' }, o.text ? textObject(o.text, ctx, `${path}/options/${i}/text`) : missing(ctx, `${path}/options/${i}/text`, 'text')),
        o.description ? h('small', { class: 'choice-desc' }, textObject(o.description, ctx, `${path}/options/${i}/description`)) : null,
      ),
    ),
  );
}

function image(e, ctx, path, cls = 'image') {
  const src = safeHref(e.image_url ?? '');
  if (!e.alt_text) ctx.errors.push(`${path}/alt_text: missing`);
  if (!src) return h('span', { class: `${cls} image-missing` }, `[image: ${e.alt_text ?? ''}]`);
  return h('img', { class: cls, src, alt: e.alt_text ?? '' });
}

/** Minimal rich_text: sections, quotes, preformatted, lists of text/link/user/channel/emoji. */
function richText(elements, ctx, path) {
  if (!Array.isArray(elements)) return unknown(ctx, path, 'rich_text needs elements');
  return elements.map((el, i) => {
    const at = `${path}/${i}`;
    const inner = () => (Array.isArray(el.elements) ? el.elements.map((x, j) => richInline(x, ctx, `${at}/elements/${j}`)) : []);
    switch (el?.type) {
      case 'rich_text_section':
        return h('div', {}, inner());
      case 'rich_text_quote':
        return h('blockquote', {}, inner());
      case 'rich_text_preformatted':
        return h('pre', { class: 'code-block' }, inner());
      case 'rich_text_list':
        return h('ul', {}, (el.elements ?? []).map((s, j) => h('li', {}, richText([s], ctx, `${at}/elements/${j}`))));
      default:
        return unknown(ctx, at, `unknown rich_text element "${String(el?.type)}"`);
    }
  });
}

function richInline(x, ctx, path) {
  let node;
  if (x?.type === 'text') node = String(x.text ?? '');
  else if (x?.type === 'link') node = safeHref(x.url) ? h('a', { href: safeHref(x.url), target: '_blank', rel: 'noopener noreferrer' }, x.text ?? x.url) : String(x.text ?? x.url ?? '');
  else if (x?.type === 'user') node = h('span', { class: 'mention' }, `@${ctx.users?.[x.user_id]?.name ?? x.user_id}`);
  else if (x?.type === 'channel') node = h('span', { class: 'mention channel' }, `#${ctx.channels?.[x.channel_id] ?? x.channel_id}`);
  else if (x?.type === 'emoji') node = emoji(`:${x.name}:`);
  else return unknown(ctx, path, `unknown rich_text inline "${String(x?.type)}"`);
  const s = x.style ?? {};
  if (s.code) node = h('code', {}, node);
  if (s.bold) node = h('b', {}, node);
  if (s.italic) node = h('i', {}, node);
  if (s.strike) node = h('s', {}, node);
  return node;
}

/** A text object: mrkdwn or plain_text (emoji converted). */
function textObject(t, ctx, path, { plainOnly = false, max } = {}) {
  if (!t || typeof t !== 'object' || typeof t.text !== 'string') return missing(ctx, path, 'text object');
  if (t.type !== 'mrkdwn' && t.type !== 'plain_text') return unknown(ctx, path, `unknown text type "${String(t.type)}"`);
  if (plainOnly && t.type !== 'plain_text') ctx.errors.push(`${path}: must be plain_text`);
  if (max !== undefined && t.text.length > max) ctx.errors.push(`${path}: longer than ${max} characters`);
  if (t.type === 'plain_text') return h('span', { class: 'plain' }, t.emoji === false ? t.text : emoji(t.text));
  return h('span', { class: 'mrkdwn' }, mrkdwn(t.text, ctx));
}

function plainString(t) {
  return t && typeof t.text === 'string' ? (t.type === 'plain_text' ? emoji(t.text) : leafText(t.text)) : '';
}

function missing(ctx, path, what) {
  return unknown(ctx, path, `missing ${what}`);
}

function unknown(ctx, path, message) {
  ctx.errors.push(`${path}: ${message}`);
  return h('div', { class: 'render-error', title: path }, `⚠ ${message}`);
}
