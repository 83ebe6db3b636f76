import type { TargetsConfig } from '../config.js';
import { parseDuration } from '../duration.js';
import type { DbopsError } from '../errors.js';
import { LIMITS, truncate, type Block } from './blocks.js';
import { RUNBOOK_MODAL, type ModalMeta, type StateValues } from './views.js';

/** Inputs dispatch this action on change, so the modal can refresh its live preview. */
export const KILL_PREVIEW_ACTION = 'kill_preview';

const plain = (text: string, max = 2000) => ({ type: 'plain_text' as const, text: truncate(text, max), emoji: true });
const SELECTOR_OPTIONS = [
  ['idle', 'idle sessions'],
  ['idle-in-transaction', 'idle in transaction'],
  ['blockers', 'root blockers of lock chains'],
  ['all', 'ALL client sessions (emergency)'],
  ['pids', 'specific pids…'],
] as const;

export interface KillModalState {
  target?: string;
  selector?: string;
  pids?: string;
  olderThan?: string;
  app?: string;
  user?: string;
  includeSuperusers?: boolean;
  reason?: string;
}

const textInput = (blockId: string, label: string, value: string | undefined, hint: string, placeholder?: string): Block => ({
  type: 'input',
  block_id: blockId,
  optional: true,
  dispatch_action: true,
  label: plain(label),
  hint: plain(hint),
  element: {
    type: 'plain_text_input',
    action_id: KILL_PREVIEW_ACTION,
    dispatch_action_config: { trigger_actions_on: ['on_enter_pressed', 'on_character_entered'] },
    ...(value ? { initial_value: value } : {}),
    ...(placeholder ? { placeholder: plain(placeholder) } : {}),
  },
});

/**
 * `/db kill <target>` without a selector: pick what to kill, narrow it, and see how many sessions
 * match right now before requesting (the approval card then shows the exact list).
 */
export function killModal(targets: TargetsConfig, s: KillModalState, meta: ModalMeta, preview: string): Record<string, unknown> {
  const targetOptions = [...targets.targets.values()].slice(0, 100).map((t) => ({ text: plain(`${t.name} (${t.environment})`, 75), value: t.name }));
  const selOptions = SELECTOR_OPTIONS.map(([v, t]) => ({ text: plain(t, 75), value: v }));
  const initialTarget = targetOptions.find((o) => o.value === s.target);
  const initialSel = selOptions.find((o) => o.value === s.selector);
  const superOpt = { text: plain('include superuser sessions', 75), value: 'include-superusers' };
  const blocks: Block[] = [
    { type: 'input', block_id: 'arg:target', dispatch_action: true, label: plain('Target'), element: { type: 'static_select', action_id: KILL_PREVIEW_ACTION, options: targetOptions, ...(initialTarget ? { initial_option: initialTarget } : {}) } },
    { type: 'input', block_id: 'arg:selector', dispatch_action: true, label: plain('Which sessions'), element: { type: 'static_select', action_id: KILL_PREVIEW_ACTION, options: selOptions, ...(initialSel ? { initial_option: initialSel } : {}) } },
    textInput('arg:pids', 'pids', s.pids, 'only for "specific pids": space- or comma-separated', '4242 4243'),
    textInput('arg:older-than', 'Older than', s.olderThan, 'only sessions in their state at least this long', '10m'),
    textInput('arg:app', 'Application', s.app, 'exact application_name'),
    textInput('arg:user', 'User', s.user, 'exact role name'),
    {
      type: 'input',
      block_id: 'flags:bool',
      optional: true,
      dispatch_action: true,
      label: plain('Options'),
      element: { type: 'checkboxes', action_id: KILL_PREVIEW_ACTION, options: [superOpt], ...(s.includeSuperusers ? { initial_options: [superOpt] } : {}) },
    },
    { type: 'section', block_id: 'preview', text: { type: 'mrkdwn', text: truncate(preview, LIMITS.sectionText) } },
    { type: 'input', block_id: 'arg:reason', optional: true, label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'value', max_length: 500, ...(s.reason ? { initial_value: s.reason } : {}) } },
  ];
  return {
    type: 'modal',
    callback_id: RUNBOOK_MODAL,
    private_metadata: truncate(JSON.stringify(meta), LIMITS.privateMetadata),
    title: plain('/db kill'),
    submit: plain('Request kill'),
    close: plain('Cancel'),
    blocks,
  };
}

export function killStateFrom(values: StateValues): KillModalState {
  const get = (b: string) => {
    const a = Object.values(values[b] ?? {})[0];
    return a?.selected_option?.value ?? (a?.value?.trim() || undefined);
  };
  const s: KillModalState = {};
  const set = <K extends keyof KillModalState>(k: K, v: KillModalState[K] | undefined) => {
    if (v !== undefined) s[k] = v;
  };
  set('target', get('arg:target'));
  set('selector', get('arg:selector'));
  set('pids', get('arg:pids'));
  set('olderThan', get('arg:older-than'));
  set('app', get('arg:app'));
  set('user', get('arg:user'));
  set('reason', get('arg:reason'));
  if (Object.values(values['flags:bool'] ?? {})[0]?.selected_options?.some((o) => o.value === 'include-superusers')) s.includeSuperusers = true;
  return s;
}

/** The kill modal's state as the raw args the slash command would produce. */
export function readKillModal(values: StateValues): { target?: string; raw: Record<string, unknown>; reason?: string; errors: Record<string, string> } {
  const s = killStateFrom(values);
  const raw: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  if (!s.selector) errors['arg:selector'] = 'Choose which sessions.';
  else if (s.selector === 'pids') {
    if (!s.pids) errors['arg:pids'] = 'List the pids to kill.';
    else raw.what = s.pids.split(/[\s,]+/).filter(Boolean);
  } else raw.what = [s.selector];
  if (s.olderThan) {
    try {
      raw['older-than'] = parseDuration(s.olderThan, 'older-than');
    } catch (err) {
      errors['arg:older-than'] = (err as DbopsError).userMessage;
    }
  }
  if (s.app) raw.app = s.app;
  if (s.user) raw.user = s.user;
  if (s.includeSuperusers) raw['include-superusers'] = true;
  return { ...(s.target ? { target: s.target } : {}), raw, ...(s.reason ? { reason: s.reason } : {}), errors };
}
