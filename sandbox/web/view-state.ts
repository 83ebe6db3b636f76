// What the page's modal inputs hold → view.state.values exactly as Slack sends it in a
// view_submission, using the stored view to find element types and full option objects.
// Ids follow the page renderer (sandbox/public/blockkit.js) for blocks sent without them.

/** block_id → action_id → the raw input value (string, or list of strings for multi-choice). */
export type RawValues = Record<string, Record<string, string | string[] | null | undefined>>;
type Option = { value: string; [k: string]: unknown };
type Element = { type?: string; action_id?: string; options?: Option[]; option_groups?: Array<{ options?: Option[] }> };
type Block = { type?: string; block_id?: string; optional?: boolean; element?: Element; elements?: Element[] };

export const blockIdOf = (b: Block, index: number): string => (typeof b.block_id === 'string' ? b.block_id : `auto_${index}`);
export const actionIdOf = (e: Element, blockId: string): string => (typeof e.action_id === 'string' ? e.action_id : `${blockId}_action`);

const STATEFUL = new Set([
  'plain_text_input', 'number_input', 'email_text_input', 'url_text_input', 'static_select', 'multi_static_select',
  'radio_buttons', 'checkboxes', 'datepicker', 'timepicker', 'users_select', 'conversations_select', 'channels_select',
]);

export function buildState(view: { blocks?: unknown; [k: string]: unknown }, raw: RawValues): { values: Record<string, Record<string, Record<string, unknown>>> } {
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  const blocks = Array.isArray(view.blocks) ? (view.blocks as Block[]) : [];
  blocks.forEach((b, i) => {
    const blockId = blockIdOf(b, i);
    const elements = b.type === 'input' && b.element ? [b.element] : b.type === 'actions' ? b.elements ?? [] : [];
    for (const e of elements) {
      if (!e.type || !STATEFUL.has(e.type)) continue;
      const actionId = actionIdOf(e, blockId);
      (values[blockId] ??= {})[actionId] = stateOf(e, raw[blockId]?.[actionId]);
    }
  });
  return { values };
}

/** The element with this block/action id in a block list (input, actions or section accessory). */
export function elementAt(blocks: unknown, blockId: string | undefined, actionId: string): Element | undefined {
  const list = Array.isArray(blocks) ? (blocks as Array<Block & { accessory?: Element }>) : [];
  for (const [i, b] of list.entries()) {
    const id = blockIdOf(b, i);
    if (blockId !== undefined && id !== blockId) continue;
    const found = [b.element, b.accessory, ...(b.elements ?? [])].find((e) => e && actionIdOf(e, id) === actionId);
    if (found) return found;
  }
  return undefined;
}

/** Input blocks that are required but empty: Slack's client refuses to submit them. */
export function missingRequired(view: { blocks?: unknown; [k: string]: unknown }, state: ReturnType<typeof buildState>): Record<string, string> {
  const errors: Record<string, string> = {};
  const blocks = Array.isArray(view.blocks) ? (view.blocks as Block[]) : [];
  blocks.forEach((b, i) => {
    if (b.type !== 'input' || b.optional || !b.element) return;
    const blockId = blockIdOf(b, i);
    const v = state.values[blockId]?.[actionIdOf(b.element, blockId)];
    if (!v) return;
    const empty = Object.entries(v).every(([k, x]) => k === 'type' || x === null || x === undefined || x === '' || (Array.isArray(x) && x.length === 0));
    if (empty) errors[blockId] = 'Please complete this required field.';
  });
  return errors;
}

/** One element's entry in state.values (and the selected_* fields of a block_actions action). */
export function stateOf(e: Element, raw: string | string[] | null | undefined): Record<string, unknown> {
  const one = Array.isArray(raw) ? raw[0] : raw;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const text = one === undefined || one === null || one === '' ? null : one;
  const options = [...(e.options ?? []), ...(e.option_groups ?? []).flatMap((g) => g.options ?? [])];
  switch (e.type) {
    case 'static_select':
    case 'radio_buttons':
      return { type: e.type, selected_option: options.find((o) => o.value === one) ?? null };
    case 'multi_static_select':
    case 'checkboxes':
      return { type: e.type, selected_options: options.filter((o) => list.includes(o.value)) };
    case 'datepicker':
      return { type: e.type, selected_date: text };
    case 'timepicker':
      return { type: e.type, selected_time: text };
    case 'users_select':
      return { type: e.type, selected_user: text };
    case 'conversations_select':
      return { type: e.type, selected_conversation: text };
    case 'channels_select':
      return { type: e.type, selected_channel: text };
    default:
      return { type: e.type, value: text };
  }
}
