// vnode → DOM with createElement / createTextNode only. Attributes are allow-listed; hrefs and
// image sources are re-checked, so nothing from a message can become markup or a script URL.
import { TAGS, safeHref } from './vnode.js';

const ATTRS = new Set(['class', 'title', 'type', 'name', 'placeholder', 'rows', 'step', 'min', 'max', 'maxlength', 'role', 'target', 'rel', 'alt', 'for']);
const PROPS = new Set(['value', 'checked', 'selected', 'multiple', 'disabled']);

/** @param {import('./vnode.js').VNode | string} node */
export function toDom(node) {
  if (typeof node === 'string') return document.createTextNode(node);
  if (!TAGS.has(node.tag)) throw new Error(`refusing to render <${node.tag}>`);
  const el = document.createElement(node.tag);
  for (const [key, value] of Object.entries(node.attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('data-') && /^data-[a-z-]+$/.test(key)) el.setAttribute(key, String(value));
    else if (ATTRS.has(key)) el.setAttribute(key, String(value));
    else if (PROPS.has(key)) {
      if (key === 'value') el.setAttribute('value', String(value));
      el[key] = key === 'value' ? String(value) : Boolean(value);
    } else if (key === 'href' || key === 'src') {
      const url = safeHref(value);
      if (url) el.setAttribute(key, url);
    }
  }
  for (const child of node.children) el.append(toDom(child));
  // textarea content is its value, not children
  if (node.tag === 'textarea' && node.attrs.value !== undefined) el.value = String(node.attrs.value);
  return el;
}

/** Replaces an element's children with one rendered vnode (or several). */
export function mount(parent, nodes) {
  parent.replaceChildren(...(Array.isArray(nodes) ? nodes : [nodes]).map(toDom));
}

/** A small element helper for app chrome (never given HTML). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') e[k] = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}
