// The Block Kit limits Slack enforces (FACTS.md) that a bot most easily breaks. Answering with
// Slack's own error codes lets tests catch an over-long card before a real workspace does.

const MESSAGE_MAX_BLOCKS = 50;
const MODAL_MAX_BLOCKS = 100;

/** Returns Slack-style "[ERROR] … [json-pointer:…]" messages; empty when valid. */
export function blockErrors(blocks: unknown, max = MESSAGE_MAX_BLOCKS, pointer = '/blocks'): string[] {
  if (blocks === undefined) return [];
  if (!Array.isArray(blocks)) return [`[ERROR] must be an array [json-pointer:${pointer}]`];
  const errors: string[] = [];
  if (blocks.length > max) errors.push(`[ERROR] no more than ${max} items allowed [json-pointer:${pointer}]`);
  blocks.forEach((block, i) => {
    const at = `${pointer}/${i}`;
    if (block === null || typeof block !== 'object' || typeof (block as { type?: unknown }).type !== 'string') {
      errors.push(`[ERROR] missing required field: type [json-pointer:${at}]`);
      return;
    }
    walk(block, at, errors);
  });
  return errors;
}

export function viewErrors(view: unknown): string[] {
  if (view === null || typeof view !== 'object') return ['[ERROR] missing required field: view'];
  const v = view as Record<string, unknown>;
  const errors: string[] = [];
  if (v.type !== 'modal' && v.type !== 'home') errors.push('[ERROR] missing required field: type [json-pointer:/view/type]');
  const title = (v.title as { text?: unknown } | undefined)?.text;
  if (v.type === 'modal' && typeof title !== 'string') errors.push('[ERROR] missing required field: title [json-pointer:/view/title]');
  if (typeof title === 'string' && title.length > 24) errors.push('[ERROR] must be less than 25 characters [json-pointer:/view/title/text]');
  if (typeof v.private_metadata === 'string' && v.private_metadata.length > 3000) {
    errors.push('[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]');
  }
  errors.push(...blockErrors(v.blocks ?? [], MODAL_MAX_BLOCKS, '/view/blocks'));
  return errors;
}

function walk(node: object, at: string, errors: string[]): void {
  const n = node as Record<string, unknown>;
  const limit = (field: string, max: number, value: unknown = n[field]) => {
    if (typeof value === 'string' && value.length > max) {
      errors.push(`[ERROR] must be less than ${max + 1} characters [json-pointer:${at}/${field}]`);
    }
  };
  limit('action_id', 255);
  limit('block_id', 255);
  if (n.type === 'section') limit('text/text', 3000, (n.text as { text?: unknown } | undefined)?.text);
  if (n.type === 'button') {
    limit('text/text', 75, (n.text as { text?: unknown } | undefined)?.text);
    limit('value', 2000);
  }
  for (const [key, child] of Object.entries(n)) {
    if (Array.isArray(child)) child.forEach((c, i) => c && typeof c === 'object' && walk(c, `${at}/${key}/${i}`, errors));
    else if (child && typeof child === 'object' && key !== 'text') walk(child, `${at}/${key}`, errors);
  }
}
