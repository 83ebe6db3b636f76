import { z } from 'zod';
import type { ModalInput } from '../commands/parse.js';
import type { TargetsConfig } from '../config.js';
import type { Runbook } from '../runbooks/runbook.js';
import { esc, LIMITS, truncate, type Block } from './blocks.js';

export const RUNBOOK_MODAL = 'runbook_modal';
export const DENY_MODAL = 'deny_reason';

const plain = (text: string, max = 2000) => ({ type: 'plain_text' as const, text: truncate(text, max), emoji: true });

/** A flag value as the user would type it again (durations are stored in seconds): `600` → `10m`. */
function prefillFlag(kind: 'bool' | 'string' | 'duration', v: unknown): string | undefined {
  if (kind === 'string' && typeof v === 'string') return v;
  if (kind !== 'duration' || typeof v !== 'number') return undefined;
  const unit = ([['d', 86400], ['h', 3600], ['m', 60]] as const).find(([, n]) => v % n === 0 && v >= n);
  return unit ? `${v / unit[1]}${unit[0]}` : `${v}s`;
}

/**
 * A modal generated from a runbook's grammar: target select, one input per argument and flag,
 * and a reason. Block ids are `arg:<name>` so validation errors can point at the right field.
 */
export function runbookModal(rb: Runbook, targets: TargetsConfig, prefill: { target?: string; raw?: Record<string, unknown>; reason?: string }, privateMetadata: string): Record<string, unknown> {
  const options = [...targets.targets.values()].slice(0, 100).map((t) => ({ text: plain(`${t.name} (${t.environment})`, 75), value: t.name }));
  const initial = options.find((o) => o.value === prefill.target);
  const blocks: Block[] = [
    {
      type: 'input',
      block_id: 'arg:target',
      label: plain('Target'),
      element: { type: 'static_select', action_id: 'value', options, ...(initial ? { initial_option: initial } : {}) },
    },
  ];
  for (const p of rb.grammar.positionals) {
    const pre = prefill.raw?.[p.name];
    blocks.push({
      type: 'input',
      block_id: `arg:${p.name}`,
      optional: !p.required,
      label: plain(p.name),
      hint: plain(p.help),
      element: { type: 'plain_text_input', action_id: 'value', ...(pre !== undefined ? { initial_value: Array.isArray(pre) ? pre.join(' ') : String(pre) } : {}) },
    });
  }
  const bools = Object.entries(rb.grammar.flags).filter(([, d]) => d.kind === 'bool');
  if (bools.length) {
    const opts = bools.map(([f, d]) => ({ text: plain(`--${f}`, 75), description: plain(d.help, 75), value: f }));
    const init = opts.filter((o) => prefill.raw?.[o.value] === true);
    blocks.push({ type: 'input', block_id: 'flags:bool', optional: true, label: plain('Options'), element: { type: 'checkboxes', action_id: 'value', options: opts, ...(init.length ? { initial_options: init } : {}) } });
  }
  for (const [f, d] of Object.entries(rb.grammar.flags)) {
    if (d.kind === 'bool') continue;
    const pre = prefillFlag(d.kind, prefill.raw?.[f]);
    blocks.push({ type: 'input', block_id: `arg:${f}`, optional: true, label: plain(`--${f}`), hint: plain(d.help), element: { type: 'plain_text_input', action_id: 'value', ...(d.kind === 'duration' ? { placeholder: plain('e.g. 10m') } : {}), ...(pre ? { initial_value: pre } : {}) } });
  }
  blocks.push({ type: 'input', block_id: 'arg:reason', optional: true, label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'value', max_length: 500, ...(prefill.reason ? { initial_value: prefill.reason } : {}) } });
  return {
    type: 'modal',
    callback_id: RUNBOOK_MODAL,
    // Sealed by the caller (MetadataSealer); never truncated, which would only break the seal.
    private_metadata: privateMetadata,
    title: plain(truncate(`/db ${rb.name}`, LIMITS.modalTitle)),
    submit: plain('Request'),
    close: plain('Cancel'),
    blocks: blocks.slice(0, LIMITS.blocksPerModal),
  };
}

/** `privateMetadata` is the sealed run id and denier (MetadataSealer); the run id is shown for people. */
export function denyModal(runId: string, summary: string, privateMetadata: string): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: DENY_MODAL,
    private_metadata: privateMetadata,
    title: plain('Deny request'),
    submit: plain('Deny'),
    close: plain('Cancel'),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(`Deny *${esc(summary)}* (run \`${esc(runId)}\`)? The requester will be told.`, 3000) } },
      // Slack itself appends "(optional)" to the label of an optional input.
      { type: 'input', block_id: 'reason', optional: true, label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 } },
    ],
  };
}

/**
 * `view.state.values` as Slack sends it, checked before anything reads it: a forged submission can
 * put any shape there. Sizes are generous for real input and small against abuse; the grammar then
 * bounds each value precisely (parse.ts INPUT_LIMITS).
 */
const stateAction = z
  .object({
    type: z.string().max(64),
    value: z.string().max(1_000_000).nullish(),
    selected_option: z.object({ value: z.string().max(256) }).passthrough().nullish(),
    selected_options: z.array(z.object({ value: z.string().max(256) }).passthrough()).max(50).nullish(),
  })
  .passthrough();
export const stateValuesSchema = z.record(z.string().max(255), z.record(z.string().max(255), stateAction)).refine((v) => Object.keys(v).length <= LIMITS.blocksPerModal, 'too many blocks');
export type StateValues = Record<string, Record<string, { type: string; value?: string | null; selected_option?: { value: string } | null; selected_options?: Array<{ value: string }> | null }>>;

/** A modal read back by block id: the grammar's input, plus errors keyed by block id for Slack to show. */
export interface ModalRead {
  input: ModalInput;
  errors: Record<string, string>;
}

/** One input per block; its action_id varies (e.g. dispatching inputs), so take the first. */
export function stateValue(values: StateValues, blockId: string): { text?: string; options: string[] } {
  const a = Object.hasOwn(values, blockId) ? Object.values(values[blockId]!)[0] : undefined;
  const text = a?.selected_option?.value ?? a?.value ?? undefined;
  return { ...(text !== undefined && text !== null && text.trim() !== '' ? { text } : {}), options: (a?.selected_options ?? []).map((o) => o.value) };
}

/**
 * Reads a submitted generic runbook modal into the grammar's input. Only the blocks this modal has
 * (target, the runbook's positionals and flags, bool options, reason) are accepted: any other block
 * id means the submission was not built by us, and is refused rather than passed on as an argument.
 */
export function readRunbookModal(values: StateValues, rb: Runbook): ModalRead {
  const errors: Record<string, string> = {};
  const input: ModalInput = { positionals: {}, flags: {} };
  const positionals = new Set(rb.grammar.positionals.map((p) => p.name));
  const bools = new Set(Object.entries(rb.grammar.flags).filter(([, d]) => d.kind === 'bool').map(([f]) => f));
  for (const blockId of Object.keys(values)) {
    const v = stateValue(values, blockId);
    if (blockId === 'flags:bool') {
      for (const o of v.options) {
        if (bools.has(o)) input.flags[o] = true;
        else errors[blockId] = `\`--${truncate(o, 40)}\` is not an option of \`/db ${rb.name}\`.`;
      }
      continue;
    }
    const name = blockId.startsWith('arg:') ? blockId.slice(4) : undefined;
    const isFlag = name !== undefined && Object.hasOwn(rb.grammar.flags, name) && !bools.has(name);
    if (name === undefined || !(name === 'target' || name === 'reason' || positionals.has(name) || isFlag)) {
      errors['arg:target'] = `This form has a field \`/db ${rb.name}\` does not take (\`${truncate(blockId, 40)}\`). Open it again with \`/db ${rb.name}\`.`;
      continue;
    }
    if (v.text === undefined) continue;
    if (name === 'target') input.target = v.text;
    else if (name === 'reason') input.reason = v.text;
    else if (positionals.has(name)) input.positionals[name] = v.text;
    else input.flags[name] = v.text;
  }
  return { input, errors };
}
