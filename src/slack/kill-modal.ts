import { bindModalInput, FieldError, type ModalInput } from '../commands/parse.js';
import type { TargetsConfig } from '../config.js';
import { userMessageOf } from '../errors.js';
import type { Runbook } from '../runbooks/runbook.js';
import { LIMITS, truncate, type Block } from './blocks.js';
import { RUNBOOK_MODAL, stateValue, type ModalRead, type StateValues } from './views.js';

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
  database?: string;
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
export function killModal(targets: TargetsConfig, s: KillModalState, privateMetadata: string, preview: string): Record<string, unknown> {
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
    textInput('arg:database', 'Database', s.database, 'sessions of another database on the same server (default: the target database)'),
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
    // Sealed by the caller (MetadataSealer); the preview passes the open view's metadata through.
    private_metadata: privateMetadata,
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
  set('database', get('arg:database'));
  set('reason', get('arg:reason'));
  if (Object.values(values['flags:bool'] ?? {})[0]?.selected_options?.some((o) => o.value === 'include-superusers')) s.includeSuperusers = true;
  return s;
}

/** Block id → the grammar field it fills; nothing else is accepted from a kill modal. */
const KILL_BLOCKS: Record<string, string> = {
  'arg:target': 'target',
  'arg:selector': 'what',
  'arg:pids': 'what',
  'arg:older-than': 'older-than',
  'arg:app': 'app',
  'arg:user': 'user',
  'arg:database': 'database',
  'flags:bool': 'include-superusers',
  'arg:reason': 'reason',
};

/** Which block shows an error about a grammar field. */
export function killBlockFor(field: string, s: Pick<KillModalState, 'selector'>): string {
  if (field === 'what') return s.selector === 'pids' ? 'arg:pids' : 'arg:selector';
  return Object.keys(KILL_BLOCKS).find((b) => KILL_BLOCKS[b] === field) ?? 'arg:target';
}

/** The kill modal's state as the grammar's input: the selector (or the pids) is the `what` positional. */
export function killModalInput(values: StateValues): ModalRead {
  const errors: Record<string, string> = {};
  const unknown = Object.keys(values).find((b) => !Object.hasOwn(KILL_BLOCKS, b));
  if (unknown) errors['arg:target'] = `This form has a field \`/db kill\` does not take (\`${truncate(unknown, 40)}\`). Open it again with \`/db kill\`.`;
  const options = stateValue(values, 'flags:bool').options;
  if (options.some((o) => o !== 'include-superusers')) errors['flags:bool'] = 'Unknown option.';
  const s = killStateFrom(values);
  const input: ModalInput = { positionals: {}, flags: {} };
  if (s.target) input.target = s.target;
  if (s.reason) input.reason = s.reason;
  if (!s.selector) errors['arg:selector'] = 'Choose which sessions.';
  else if (!SELECTOR_OPTIONS.some(([v]) => v === s.selector)) errors['arg:selector'] = 'Choose one of the listed selections.';
  else if (s.selector === 'pids') {
    if (!s.pids) errors['arg:pids'] = 'List the pids to kill.';
    else input.positionals.what = s.pids;
  } else input.positionals.what = s.selector;
  if (s.olderThan) input.flags['older-than'] = s.olderThan;
  if (s.app) input.flags.app = s.app;
  if (s.user) input.flags.user = s.user;
  if (s.database) input.flags.database = s.database;
  if (s.includeSuperusers) input.flags['include-superusers'] = true;
  return { input, errors };
}

/** The kill modal's state as the raw args the slash command would produce (for the live preview). */
export function readKillModal(values: StateValues, kill: Runbook): { target?: string; raw: Record<string, unknown>; reason?: string; errors: Record<string, string> } {
  const { input, errors } = killModalInput(values);
  let raw: Record<string, unknown> = {};
  if (!Object.keys(errors).length) {
    try {
      raw = bindModalInput(kill, input).raw;
    } catch (err) {
      const field = err instanceof FieldError ? err.field : 'target';
      errors[killBlockFor(field, killStateFrom(values))] = userMessageOf(err);
    }
  }
  return { ...(input.target ? { target: input.target } : {}), raw, ...(input.reason ? { reason: input.reason } : {}), errors };
}
