import type { TargetsConfig } from '../config.js';
import type { RestorableWindow, Snapshot } from '../providers/provider.js';
import type { Runbook } from '../runbooks/runbook.js';
import { esc, LIMITS, truncate, type Block } from './blocks.js';
import { RUNBOOK_MODAL, type StateValues } from './views.js';

/** The target and snapshot selects dispatch this, so the modal shows that target's list and window. */
export const RESTORE_REFRESH_ACTION = 'restore_modal_refresh';

/** Flags the modal lays out itself; any other flag of the restore grammar gets a plain input. */
const OWN_FIELDS = new Set(['snapshot', 'to-time', 'as']);
/** Slack's limits for a static_select option: text 75, value 150 characters. */
const OPTION_VALUE_MAX = 150;

const plain = (text: string, max = 2000) => ({ type: 'plain_text' as const, text: truncate(text, max), emoji: true });

/** What the user has entered so far (kept across refreshes) plus what was typed on the slash command. */
export interface RestoreModalState {
  target?: string;
  snapshot?: string;
  toTime?: string;
  as?: string;
  reason?: string;
  /** Other flags of the grammar (a cloud engine's instance class…), by flag name. */
  extra: Record<string, string>;
}

/** The chosen target's side: loaded from its provider by the handler. */
export interface RestoreTargetView {
  engine: string;
  snapshots: readonly Snapshot[];
  window?: RestorableWindow;
  /** Point in time offered (the engine can restore to a time). */
  pitr: boolean;
  /** The name the restore would choose for the selected (or newest) snapshot. */
  proposedName?: string;
  /** The engine cannot restore, or the list could not be read: said instead of the fields. */
  problem?: string;
}

const day = (d?: Date) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '?');
const size = (b?: number) => (b === undefined ? '' : b >= 1e9 ? ` · ${(b / 1e9).toFixed(1)} GB` : ` · ${Math.max(1, Math.round(b / 1e6))} MB`);

export function windowText(w: RestorableWindow | undefined, count: number): string {
  if (!w) return '_The restorable window could not be read._';
  if (w.granularity === 'continuous') {
    return `*Restorable window:* any time from ${day(w.earliest)} to ${day(w.latest)}${w.retentionDays !== undefined ? ` (retention ${w.retentionDays} days)` : ''}, or one of the snapshots below.`;
  }
  const keep = [w.keep !== undefined ? `newest ${w.keep} kept` : '', w.retentionDays !== undefined ? `up to ${w.retentionDays} days` : ''].filter(Boolean).join(', ');
  return w.earliest ? `*Restorable window:* the ${count} dump(s) from ${day(w.earliest)} to ${day(w.latest)}${keep ? ` (${keep})` : ''}; a restore goes to one of them.` : '*Restorable window:* no dumps yet.';
}

/**
 * `/db restore <target>` without a source: pick a snapshot (or, where the engine has it, a point in
 * time inside the window shown), the new name (the restore's default is proposed), any engine
 * option, and a reason. Submitted as the generic runbook modal (same callback, sealed metadata, same
 * grammar): block ids are `arg:<flag>`.
 */
export function restoreModal(rb: Runbook, targets: TargetsConfig, s: RestoreModalState, t: RestoreTargetView | undefined, privateMetadata: string): Record<string, unknown> {
  const targetOptions = [...targets.targets.values()].slice(0, 100).map((x) => ({ text: plain(`${x.name} (${x.environment}, ${x.engine})`, 75), value: x.name }));
  const initialTarget = targetOptions.find((o) => o.value === s.target);
  const blocks: Block[] = [
    { type: 'input', block_id: 'arg:target', dispatch_action: true, label: plain('Target'), element: { type: 'static_select', action_id: RESTORE_REFRESH_ACTION, options: targetOptions, ...(initialTarget ? { initial_option: initialTarget } : {}) } },
  ];
  if (!t || t.problem) {
    blocks.push({ type: 'section', block_id: 'window', text: { type: 'mrkdwn', text: t?.problem ? `:warning: ${esc(t.problem)}` : '_Choose a target to see its snapshots and restorable window._' } });
  } else {
    const usable = t.snapshots.filter((x) => x.status === 'available' && x.id.length <= OPTION_VALUE_MAX).slice(0, 100);
    blocks.push({ type: 'section', block_id: 'window', text: { type: 'mrkdwn', text: truncate(windowText(t.window, usable.length), LIMITS.sectionText) } });
    if (usable.length) {
      const opts = usable.map((x) => ({ text: plain(`${x.id} · ${day(x.createdAt)}${size(x.sizeBytes)}`, 75), value: x.id }));
      const initial = opts.find((o) => o.value === s.snapshot);
      blocks.push({
        type: 'input',
        block_id: 'arg:snapshot',
        dispatch_action: true,
        optional: t.pitr,
        label: plain('Snapshot'),
        hint: plain(t.pitr ? 'restore this snapshot, or leave it empty and give a point in time below' : 'the dump to restore (newest first)'),
        element: { type: 'static_select', action_id: RESTORE_REFRESH_ACTION, options: opts, ...(initial ? { initial_option: initial } : {}) },
      });
    } else if (!t.pitr) {
      blocks.push({ type: 'section', block_id: 'no-snapshots', text: { type: 'mrkdwn', text: `_No finished snapshot to restore. Take one with \`/db snapshot ${esc(s.target ?? '<target>')}\`._` } });
    }
    if (t.pitr) {
      blocks.push({ type: 'input', block_id: 'arg:to-time', optional: true, label: plain('Point in time (UTC)'), hint: plain('inside the window above, e.g. 2026-11-16T14:30:00Z'), element: { type: 'plain_text_input', action_id: 'value', placeholder: plain('2026-11-16T14:30:00Z'), ...(s.toTime ? { initial_value: s.toTime } : {}) } });
    }
    blocks.push({
      type: 'input',
      block_id: 'arg:as',
      optional: true,
      label: plain('New name'),
      hint: plain(`the NEW ${t.engine === 'self-hosted' ? 'database' : 'instance'} restored into; the target is not touched. Empty: the proposed default.`),
      element: { type: 'plain_text_input', action_id: 'value', ...(t.proposedName ? { placeholder: plain(`default: ${t.proposedName}`, 150) } : {}), ...(s.as ? { initial_value: s.as } : {}) },
    });
    // Engine options (instance class…) are the restore grammar's other flags, shown for the cloud engines they concern.
    for (const [f, d] of Object.entries(rb.grammar.flags)) {
      if (OWN_FIELDS.has(f) || d.kind === 'bool' || (/class/.test(f) && t.engine === 'self-hosted')) continue;
      blocks.push({ type: 'input', block_id: `arg:${f}`, optional: true, label: plain(`--${f}`), hint: plain(d.help), element: { type: 'plain_text_input', action_id: 'value', ...(s.extra[f] ? { initial_value: s.extra[f] } : {}) } });
    }
  }
  blocks.push({ type: 'input', block_id: 'arg:reason', optional: true, label: plain('Reason'), element: { type: 'plain_text_input', action_id: 'value', max_length: 500, ...(s.reason ? { initial_value: s.reason } : {}) } });
  return {
    type: 'modal',
    callback_id: RUNBOOK_MODAL,
    // Sealed by the caller (MetadataSealer); a refresh passes the open view's metadata through.
    private_metadata: privateMetadata,
    title: plain('/db restore'),
    submit: plain('Request restore'),
    close: plain('Cancel'),
    blocks: blocks.slice(0, LIMITS.blocksPerModal),
  };
}

/** The open modal's state, for a refresh (values are only shown again; the submission is parsed strictly). */
export function restoreStateFrom(values: StateValues): RestoreModalState {
  const get = (b: string) => {
    const a = Object.values(values[b] ?? {})[0];
    return a?.selected_option?.value ?? (a?.value?.trim() || undefined);
  };
  const s: RestoreModalState = { extra: {} };
  for (const [blockId] of Object.entries(values)) {
    const v = get(blockId);
    if (v === undefined || !blockId.startsWith('arg:')) continue;
    const name = blockId.slice(4);
    if (name === 'target') s.target = v;
    else if (name === 'snapshot') s.snapshot = v;
    else if (name === 'to-time') s.toTime = v;
    else if (name === 'as') s.as = v;
    else if (name === 'reason') s.reason = v;
    else s.extra[name] = v;
  }
  return s;
}
