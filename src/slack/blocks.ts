/**
 * Block Kit primitives that respect Slack's limits (FACTS.md) and escape user text.
 * Everything user-controlled goes through `esc` (mrkdwn) or plain_text; SQL and identifiers through `code`.
 */
export const LIMITS = {
  blocksPerMessage: 50,
  blocksPerModal: 100,
  sectionText: 3000,
  field: 2000,
  fields: 10,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  header: 150,
  contextElements: 10,
  modalTitle: 24,
  privateMetadata: 3000,
  /** chat.postMessage's total blocks payload; msg_blocks_too_long beyond ~13.2k chars. */
  messageChars: 12_000,
} as const;

export type Block = Record<string, unknown>;

/** Only & < > are special in mrkdwn. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Inline code: backticks inside would end the span, so they are replaced. */
export function code(text: string, max = 300): string {
  return `\`${esc(truncate(text.replace(/`/g, "'").replace(/\n/g, ' '), max))}\``;
}

export function codeBlock(text: string, max = LIMITS.sectionText - 10): string {
  const body = esc(text.replace(/```/g, "'''"));
  return `\`\`\`${truncate(body, max)}\`\`\``;
}

export const header = (text: string): Block => ({ type: 'header', text: { type: 'plain_text', text: truncate(text, LIMITS.header), emoji: true } });

export const section = (mrkdwn: string, extra: Partial<Block> = {}): Block => ({ type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, LIMITS.sectionText) }, ...extra });

export const divider = (): Block => ({ type: 'divider' });

export const context = (...mrkdwn: string[]): Block => ({
  type: 'context',
  elements: mrkdwn.slice(0, LIMITS.contextElements).map((t) => ({ type: 'mrkdwn', text: truncate(t, LIMITS.field) })),
});

export interface FieldValue {
  label: string;
  value: string;
  code?: boolean;
}

/** Fields section: at most 10, each "*label*\nvalue"; values are escaped or rendered as code. */
export function fields(items: FieldValue[]): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < items.length; i += LIMITS.fields) {
    out.push({
      type: 'section',
      fields: items.slice(i, i + LIMITS.fields).map((f) => ({
        type: 'mrkdwn',
        text: truncate(`*${esc(f.label)}*\n${f.code ? code(f.value, 1500) : esc(f.value)}`, LIMITS.field),
      })),
    });
  }
  return out;
}

export function button(text: string, actionId: string, value: string, style?: 'primary' | 'danger'): Block {
  return {
    type: 'button',
    text: { type: 'plain_text', text: truncate(text, LIMITS.buttonText), emoji: true },
    action_id: truncate(actionId, LIMITS.actionId),
    value: truncate(value, LIMITS.buttonValue),
    ...(style ? { style } : {}),
  };
}

export const actions = (blockId: string, elements: Block[]): Block => ({ type: 'actions', block_id: blockId, elements });

/** `▓▓▓▓▓░░░░░ 50%` */
export function bar(percent: number, width = 20): string {
  const p = Math.max(0, Math.min(100, percent));
  const full = Math.round((p / 100) * width);
  return `${'▓'.repeat(full)}${'░'.repeat(width - full)} ${p.toFixed(p < 10 ? 1 : 0)}%`;
}

/**
 * Keeps a message within Slack's block count and total size: later blocks are dropped and a
 * context line says so, rather than Slack refusing the whole message.
 */
export function fitMessage(blocks: Block[], max: number = LIMITS.blocksPerMessage): Block[] {
  if (blocks.length <= max && JSON.stringify(blocks).length <= LIMITS.messageChars) return blocks;
  let out = blocks.slice(0, max - 1);
  while (out.length > 1 && JSON.stringify(out).length > LIMITS.messageChars - 300) out = out.slice(0, -1);
  out.push(context(`_${blocks.length - out.length} more part(s) not shown: Slack limits message size. Narrow the request to see the rest._`));
  return out;
}
