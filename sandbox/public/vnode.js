// A tiny virtual node: { tag, attrs, children } where children are vnodes or plain strings.
// The renderers build these without a DOM (so tests can run them in Node); dom.js turns them
// into elements with createElement/textContent only — no HTML string ever reaches the page.

/** Tags the renderers may produce; dom.js refuses anything else. */
export const TAGS = new Set([
  'div', 'span', 'p', 'a', 'b', 'i', 's', 'code', 'pre', 'blockquote', 'button', 'img', 'hr', 'h1', 'h2', 'h3',
  'label', 'input', 'textarea', 'select', 'option', 'form', 'ul', 'li', 'time', 'small', 'strong', 'em',
]);

/**
 * h('span', { class: 'x' }, 'text', h('b', {}, 'bold'))
 * @param {string} tag
 * @param {Record<string, string | boolean | number | undefined | null>} [attrs]
 * @param {...(VNode | string | null | undefined | false | Array<VNode | string>)} children
 * @returns {VNode}
 */
export function h(tag, attrs = {}, ...children) {
  /** @type {Array<VNode | string>} */
  const flat = [];
  const push = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(push);
    else flat.push(typeof c === 'string' ? c : typeof c === 'number' ? String(c) : c);
  };
  children.forEach(push);
  return { tag, attrs: attrs ?? {}, children: flat };
}

/** All text of a vnode tree, as a reader would see it (tests assert on this). */
export function textOf(node) {
  if (typeof node === 'string') return node;
  if (node.tag === 'input' || node.tag === 'textarea') return String(node.attrs.value ?? '');
  return node.children.map(textOf).join('');
}

/** Depth-first walk over every vnode. */
export function walk(node, visit) {
  if (typeof node === 'string') return;
  visit(node);
  node.children.forEach((c) => walk(c, visit));
}

/** Only these URL schemes become links; anything else is shown as text. */
export function safeHref(url) {
  return /^(https?:\/\/|mailto:)/i.test(String(url)) ? String(url) : undefined;
}

/** @typedef {{ tag: string, attrs: Record<string, any>, children: Array<VNode | string> }} VNode */
