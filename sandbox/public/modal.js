// Modals (views.open/push/update) and button confirm dialogs. A modal is re-rendered only when
// its view changes, so what the user typed survives other live updates; errors from
// response_action: errors are shown under their fields in place.
import { renderView } from './blockkit.js';
import { el, toDom } from './dom.js';
import { post } from './api.js';

export class Modals {
  /** @param {{ root: HTMLElement, confirmRoot: HTMLElement, me: () => string, ctx: () => object, onAction: (a: object) => void }} o */
  constructor(o) {
    this.o = o;
    this.shown = undefined; // { id, hash }
  }

  /** Shows the given view (or hides the modal when undefined). */
  show(view) {
    const { root } = this.o;
    if (!view) {
      this.shown = undefined;
      root.hidden = true;
      root.replaceChildren();
      return;
    }
    if (this.shown && this.shown.id === view.id && this.shown.hash === view.hash) return;
    this.shown = { id: view.id, hash: view.hash };
    const ctx = { ...this.o.ctx(), errors: [] };
    const form = toDom(renderView(view, ctx));
    if (ctx.errors.length) console.warn('modal render errors', ctx.errors);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit(form, view.id);
    });
    form.addEventListener('click', (e) => {
      const target = /** @type {HTMLElement} */ (e.target).closest('button');
      if (!target) return;
      if (target.dataset.modal === 'close') void post('view/close', { user: this.o.me(), viewId: view.id });
      else if (target.dataset.actionId && target.dataset.type === 'button') this.o.onAction({ ...actionOf(target), viewId: view.id });
    });
    form.addEventListener('change', (e) => {
      const target = /** @type {HTMLElement} */ (e.target).closest('[data-dispatch]');
      if (target) this.o.onAction({ ...actionOf(target), viewId: view.id, selected: valueOf(target), values: collect(form) });
    });
    root.replaceChildren(form);
    root.hidden = false;
    form.querySelector('input, textarea, select')?.focus();
  }

  async submit(form, viewId) {
    const submit = form.querySelector('[data-modal="submit"]');
    if (submit) submit.disabled = true;
    try {
      const answer = await post('view/submit', { user: this.o.me(), viewId, values: collect(form) });
      showErrors(form, answer.errors ?? {}, answer.error);
    } finally {
      if (submit) submit.disabled = false;
    }
  }

  /** Resolves true when the user confirms (buttons with a `confirm` object). */
  confirm(button) {
    const { confirmRoot } = this.o;
    return new Promise((resolve) => {
      const done = (ok) => {
        confirmRoot.hidden = true;
        confirmRoot.replaceChildren();
        resolve(ok);
      };
      confirmRoot.replaceChildren(
        el(
          'div',
          { class: 'confirm', role: 'dialog' },
          el('h2', { text: button.dataset.confirmTitle || 'Are you sure?' }),
          el('div', { text: button.dataset.confirmText || '' }),
          el(
            'div',
            { class: 'row' },
            el('button', { type: 'button', class: 'btn', text: button.dataset.confirmDeny || 'Cancel', onclick: () => done(false) }),
            el('button', { type: 'button', class: 'btn btn-primary', text: button.dataset.confirmOk || 'Confirm', onclick: () => done(true) }),
          ),
        ),
      );
      confirmRoot.hidden = false;
    });
  }
}

/** What a clicked/changed element sends as block_actions. */
export function actionOf(target) {
  return { actionId: target.dataset.actionId, blockId: target.dataset.blockId, value: target.dataset.value, type: target.dataset.type };
}

/** block_id → action_id → raw value(s), read from the modal's inputs. */
function collect(form) {
  const values = {};
  for (const node of form.querySelectorAll('.modal-body [data-action-id][data-type]')) {
    const { blockId, actionId, type } = node.dataset;
    if (type === 'button') continue;
    (values[blockId] ??= {})[actionId] = valueOf(node);
  }
  return values;
}

/** An input element's raw value: a string, null, or a list for multi-choice elements. */
export function valueOf(node) {
  const type = node.dataset.type;
  if (type === 'checkboxes') return [...node.querySelectorAll('input:checked')].map((i) => i.value);
  if (type === 'radio_buttons') return node.querySelector('input:checked')?.value ?? null;
  if (node.tagName === 'SELECT' && node.multiple) return [...node.selectedOptions].map((o) => o.value);
  return node.value ?? null;
}

function showErrors(form, errors, banner) {
  form.querySelectorAll('.field-error, .modal-banner').forEach((n) => n.remove());
  if (banner) form.querySelector('.modal-body')?.before(el('div', { class: 'modal-banner', role: 'alert', text: banner }));
  for (const [blockId, message] of Object.entries(errors)) {
    const block = [...form.querySelectorAll('.block[data-block-id]')].find((b) => b.dataset.blockId === blockId);
    (block ?? form.querySelector('.modal-body'))?.append(el('div', { class: 'field-error', role: 'alert', text: String(message) }));
  }
}
