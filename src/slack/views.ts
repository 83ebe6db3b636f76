import type { TargetsConfig } from '../config.js';
import { parseDuration } from '../duration.js';
import type { DbopsError } from '../errors.js';
import type { Runbook } from '../runbooks/runbook.js';
import { LIMITS, truncate, type Block } from './blocks.js';

export const RUNBOOK_MODAL = 'runbook_modal';
export const DENY_MODAL = 'deny_reason';

export interface ModalMeta {
  verb: string;
  channel: string;
}

const plain = (text: string, max = 2000) => ({ type: 'plain_text' as const, text: truncate(text, max), emoji: true });

/**
 * A modal generated from a runbook's grammar: target select, one input per argument and flag,
 * and a reason. Block ids are `arg:<name>` so validation errors can point at the right field.
 */
export function runbookModal(rb: Runbook, targets: TargetsConfig, prefill: { target?: string; raw?: Record<string, unknown> }, meta: ModalMeta): Record<string, unknown> {
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
    blocks.push({ type: 'input', block_id: `arg:${f}`, optional: true, label: plain(`--${f}`), hint: plain(d.help), element: { type: 'plain_text_input', action_id: 'value', ...(d.kind === 'duration' ? { placeholder: plain('e.g. 10m') } : {}) } });
  }
  blocks.push({ type: 'input', block_id: 'arg:reason', optional: true, label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'value', max_length: 500 } });
  return {
    type: 'modal',
    callback_id: RUNBOOK_MODAL,
    private_metadata: truncate(JSON.stringify(meta), LIMITS.privateMetadata),
    title: plain(truncate(`/db ${rb.name}`, LIMITS.modalTitle)),
    submit: plain('Request'),
    close: plain('Cancel'),
    blocks: blocks.slice(0, LIMITS.blocksPerModal),
  };
}

export function denyModal(runId: string, summary: string): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: DENY_MODAL,
    private_metadata: JSON.stringify({ runId }),
    title: plain('Deny request'),
    submit: plain('Deny'),
    close: plain('Cancel'),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(`Deny *${summary.replace(/[&<>]/g, '')}*? The requester will be told.`, 3000) } },
      { type: 'input', block_id: 'reason', optional: true, label: plain('Reason (optional)'), element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 } },
    ],
  };
}

export type StateValues = Record<string, Record<string, { type: string; value?: string | null; selected_option?: { value: string } | null; selected_options?: Array<{ value: string }> }>>;

/** Reads a submitted runbook modal back into the same raw shape the slash-command parser builds. */
export function readRunbookModal(values: StateValues, rb?: Runbook): { target?: string; raw: Record<string, unknown>; reason?: string; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const raw: Record<string, unknown> = {};
  const rest = new Set(rb?.grammar.positionals.filter((p) => p.rest).map((p) => p.name));
  let target: string | undefined;
  let reason: string | undefined;
  for (const [blockId, actions] of Object.entries(values)) {
    // One input per block; its action_id varies (e.g. dispatching inputs), so take the first.
    const a = Object.values(actions)[0];
    if (!a) continue;
    if (blockId === 'flags:bool') {
      for (const o of a.selected_options ?? []) raw[o.value] = true;
      continue;
    }
    const name = blockId.replace(/^arg:/, '');
    const v = a.selected_option?.value ?? a.value ?? undefined;
    if (v === undefined || v === null || v.trim() === '') continue;
    if (name === 'target') target = v;
    else if (name === 'reason') reason = v.trim();
    else if (rest.has(name)) raw[name] = v.trim().split(/[\s,]+/);
    else if (rb?.grammar.flags[name]?.kind === 'duration') {
      try {
        raw[name] = parseDuration(v, name);
      } catch (err) {
        errors[blockId] = (err as DbopsError).userMessage ?? 'not a duration, like 10m';
      }
    } else raw[name] = v.trim();
  }
  return { ...(target ? { target } : {}), raw, ...(reason ? { reason } : {}), errors };
}
