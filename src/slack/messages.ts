import type { RunResult, Progress, ReportSection } from '../runbooks/runbook.js';
import type { RunRow } from '../store/runs.js';
import type { AuditRow, ChainReport } from '../store/audit.js';
import { actions, bar, button, code, codeBlock, context, divider, esc, fields, fitMessage, header, section, truncate, type Block } from './blocks.js';
import { formatDuration } from '../duration.js';

export interface Message {
  text: string;
  blocks: Block[];
}

const user = (id: string) => (/^[UW][A-Z0-9]+$/.test(id) ? `<@${id}>` : esc(id));
const when = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${d.toISOString()}>`;
const RISK_ICON = { read: ':mag:', change: ':wrench:', destructive: ':rotating_light:' } as const;
const STATE_ICON: Record<RunRow['state'], string> = {
  pending_approval: ':hourglass_flowing_sand:',
  queued: ':inbox_tray:',
  running: ':arrows_counterclockwise:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  denied: ':no_entry:',
  expired: ':alarm_clock:',
  refused: ':no_entry_sign:',
};
const STATE_LABEL: Record<RunRow['state'], string> = {
  pending_approval: 'waiting for approval',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  denied: 'denied',
  expired: 'expired',
  refused: 'refused',
};

type RunLike = Pick<RunRow, 'id' | 'runbook' | 'target' | 'environment' | 'risk' | 'plan' | 'requester' | 'reason' | 'state' | 'expiresAt' | 'requiredApprovals'>;

/** `text` is mrkdwn the bot wrote: anything user-typed inside it must already be escaped. */
export function errorMessage(text: string): Message {
  return { text, blocks: [section(`:warning: ${text}`)] };
}

/**
 * An error whose text may echo what the user typed (DbopsError user messages, refusals): escaped as a
 * whole, so a `<!channel>` in a table name or filter is shown, never interpreted. Backticks and
 * asterisks still format, which is all these messages use.
 */
export function userError(text: string): Message {
  return errorMessage(esc(text));
}

export function infoMessage(text: string): Message {
  return { text, blocks: [section(text)] };
}

function planFacts(run: RunLike): Block[] {
  const out: Block[] = [
    ...fields([
      { label: 'Target', value: run.target, code: true },
      { label: 'Environment', value: run.environment },
      { label: 'Requested by', value: '' },
      { label: 'Risk', value: run.risk },
      ...run.plan.display,
    ]),
  ];
  // Requester is a mention, which must not be escaped: patch it in after escaping the rest.
  const first = out[0] as { fields: Array<{ text: string }> };
  first.fields[2]!.text = `*Requested by*\n${user(run.requester)}`;
  return out;
}

function stepsList(steps: string[]): string {
  return steps.map((s, i) => `${i + 1}. ${esc(s)}`).join('\n');
}

/** The message a change run is announced with; progress goes in its thread. */
export function requestMessage(run: RunLike, extra?: { approvers?: string[] }): Message {
  const blocks: Block[] = [
    section(`${RISK_ICON[run.risk]} *${esc(run.plan.summary)}* — ${STATE_ICON[run.state]} ${STATE_LABEL[run.state]}`),
    ...planFacts(run),
  ];
  if (run.reason) blocks.push(section(`*Reason:* ${esc(run.reason)}`));
  if (extra?.approvers?.length) blocks.push(context(`Approved by ${extra.approvers.map(user).join(', ')}`));
  blocks.push(context(`Run \`${run.id}\` · \`/db run ${run.id}\``));
  return { text: `${esc(run.plan.summary)}: ${STATE_LABEL[run.state]}`, blocks: fitMessage(blocks) };
}

/**
 * The card approvers act on: exactly what will happen (steps and the facts bound by the plan hash),
 * who asked, why, and until when. Buttons only while the request is pending.
 */
/** Mentions that notify: users as <@U…>, user groups as <!subteam^S…>. */
export function approverMentions(ids: readonly string[]): string {
  return ids.map((id) => (/^S[A-Z0-9]+$/.test(id) ? `<!subteam^${id}>` : /^[UW][A-Z0-9]+$/.test(id) ? `<@${id}>` : '')).filter(Boolean).join(' ');
}

export function approvalCard(run: RunLike, status: { approvedBy: string[]; deniedBy?: string; denyReason?: string | null; note?: string; threadLink?: string; mention?: readonly string[] }): Message {
  const pending = run.state === 'pending_approval';
  // Once decided the card says what became of it, not that approval is still needed.
  const title = pending ? `${run.risk === 'destructive' ? '🚨 Approval needed' : 'Approval needed'}: ${run.runbook} on ${run.target}` : `${STATE_LABEL[run.state]}: ${run.runbook} on ${run.target}`;
  const blocks: Block[] = [
    header(title),
    section(`*${esc(run.plan.summary)}*`),
    ...planFacts(run),
    section(`*What will happen*\n${stepsList(run.plan.steps)}`),
  ];
  if (run.plan.detail) blocks.push(section(codeBlock(run.plan.detail, 2900)));
  if (run.plan.impact) blocks.push(section(`*Impact:* ${esc(run.plan.impact)}`));
  if (run.reason) blocks.push(section(`*Reason:* ${esc(run.reason)}`));
  const quorum = run.requiredApprovals > 1 ? ` (${status.approvedBy.length}/${run.requiredApprovals} approvals)` : '';
  if (pending) {
    blocks.push(context(`Needs ${run.requiredApprovals > 1 ? `${run.requiredApprovals} approvals` : 'approval'} from someone other than the requester${quorum}.${run.expiresAt ? ` Expires ${when(run.expiresAt)}.` : ''} Run \`${run.id}\``));
    blocks.push(actions(`approval:${run.id}`, [button('Approve', 'approval_approve', run.id, 'primary'), button('Deny', 'approval_deny', run.id, 'danger')]));
    const mentions = approverMentions(status.mention ?? []);
    if (mentions) blocks.push(section(`Approvers: ${mentions}`));
  } else {
    let line = `${STATE_ICON[run.state]} *${STATE_LABEL[run.state]}*`;
    if (status.approvedBy.length) line += ` · approved by ${status.approvedBy.map(user).join(', ')}`;
    if (status.deniedBy) line += ` · denied by ${user(status.deniedBy)}${status.denyReason ? `: ${esc(status.denyReason)}` : ''}`;
    if (status.note) line += ` · ${esc(status.note)}`;
    if (status.threadLink) line += ` · <${status.threadLink}|progress thread>`;
    blocks.push(section(line));
    blocks.push(context(`Run \`${run.id}\` · \`/db run ${run.id}\``));
  }
  const cc = pending ? approverMentions(status.mention ?? []) : '';
  return { text: `${pending ? 'Approval needed' : STATE_LABEL[run.state]}: ${esc(run.plan.summary)}${cc ? ` — ${cc}` : ''}`, blocks: fitMessage(blocks) };
}

/** The incident-channel announcement (the seeds' template). */
export function announcement(run: RunLike, approvers: string[]): Message {
  const blocks: Block[] = [
    header(`📣 ${run.runbook} starting on ${run.target} (${run.environment})`),
    section(`*Operation:* ${esc(run.plan.summary)}`),
    ...fields([
      { label: 'Target', value: run.target, code: true },
      { label: 'Environment', value: run.environment },
      { label: 'Expected duration', value: run.plan.etaSeconds ? `~${formatDuration(run.plan.etaSeconds)}` : 'unknown' },
      { label: 'Impact', value: run.plan.impact ?? 'none expected' },
    ]),
    section(`*Requested by* ${user(run.requester)}${approvers.length ? ` · *approved by* ${approvers.map(user).join(', ')}` : ''}`),
    context(`Progress in this thread · run \`${run.id}\``),
  ];
  return { text: `Starting ${esc(run.plan.summary)} on ${esc(run.target)} (${esc(run.environment)})`, blocks };
}

/** What a progress message is about: its icon follows the run, never the wording of its text. */
export type ProgressState = 'running' | 'done' | 'failed';
const PROGRESS_ICON: Record<ProgressState, string> = { running: STATE_ICON.running, done: STATE_ICON.succeeded, failed: STATE_ICON.failed };

export function progressMessage(run: Pick<RunRow, 'plan' | 'id'>, p: Progress, stepName: string, state: ProgressState = 'running'): Message {
  const lines = [`${PROGRESS_ICON[state]} *${esc(stepName)}* — ${esc(p.text)}`];
  if (p.percent !== undefined) lines.push(`\`${bar(p.percent)}\``);
  return { text: `${esc(run.plan.summary)}: ${esc(p.text)}`, blocks: [section(lines.join('\n')), context(`Updated ${new Date().toISOString().slice(11, 19)} UTC · run \`${run.id}\``)] };
}

export function resultMessage(run: Pick<RunRow, 'plan' | 'id' | 'target'>, rIn: RunResult, durationSeconds: number): Message {
  // One source for durations: the run's own, as in the headline's "in …". A runbook's separately
  // timed "Duration" fact (VACUUM's command alone) would show a second, different number next to it.
  const r: RunResult = { ...rIn, facts: rIn.facts.map((f) => (f.label === 'Duration' ? { ...f, value: formatDuration(durationSeconds) } : f)) };
  const head = section(`${r.warning ? ':warning:' : ':white_check_mark:'} *${esc(r.headline)}* (in ${formatDuration(durationSeconds)})`);
  const blocks: Block[] = [head, ...(r.warning ? [section(esc(r.warning))] : []), ...fields(r.facts), context(`Run \`${run.id}\` on \`${esc(run.target)}\``)];
  return { text: `${r.warning ? 'Finished with a warning' : 'Done'}: ${esc(r.headline)}`, blocks: fitMessage(blocks) };
}

export function failureMessage(run: Pick<RunRow, 'plan' | 'id' | 'target'>, error: string, step: string | undefined, leftState: string): Message {
  const blocks: Block[] = [
    section(`:x: *${esc(run.plan.summary)} failed*${step ? ` at step *${esc(step)}*` : ''}`),
    section(`*Error:* ${esc(error)}`),
    section(`*State left:* ${esc(leftState)}`),
    context(`Run \`${run.id}\` · details: \`/db run ${run.id}\``),
  ];
  return { text: `Failed: ${esc(run.plan.summary)}: ${esc(error)}`, blocks };
}

export function reportMessage(title: string, sectionsIn: ReportSection[], footer: string): Message {
  const blocks: Block[] = [header(title)];
  for (const s of sectionsIn) {
    if (s.title || s.mrkdwn) blocks.push(section(`${s.title ? `*${esc(s.title)}*\n` : ''}${s.mrkdwn ?? ''}`));
    if (s.fields?.length) blocks.push(...fields(s.fields));
    if (s.code) blocks.push(section(codeBlock(s.code)));
  }
  blocks.push(context(footer));
  // The header is plain_text; the notification text is mrkdwn, so the title is escaped there.
  return { text: esc(title), blocks: fitMessage(blocks) };
}

export function runsMessage(runs: RunRow[], target?: string): Message {
  if (runs.length === 0) return infoMessage(`No runs${target ? ` on \`${esc(target)}\`` : ''} yet.`);
  const lines = runs.map(
    (r) => `${STATE_ICON[r.state]} \`${r.id}\` ${esc(truncate(r.plan.summary, 90))} · ${STATE_LABEL[r.state]} · ${user(r.requester)} · ${when(r.createdAt)}`,
  );
  return { text: `Runs${target ? ` on ${esc(target)}` : ''}`, blocks: fitMessage([header(`Runs${target ? ` on ${target}` : ''}`), section(lines.join('\n'))]) };
}

export function runDetailMessage(
  run: RunRow,
  steps: Array<{ idx: number; name: string; state: string; attempts: number; error: string | null }>,
  approvals: Array<{ approver: string; decision: string; reason: string | null; at: Date }>,
  threadLink?: string,
): Message {
  const blocks: Block[] = [
    header(`Run ${run.id}`),
    section(`${STATE_ICON[run.state]} *${esc(run.plan.summary)}* — ${STATE_LABEL[run.state]}`),
    ...planFacts(run),
    section(
      `*Steps*\n${run.plan.steps
        .map((s, i) => {
          const st = steps.find((x) => x.idx === i);
          const icon = st ? (st.state === 'done' ? ':white_check_mark:' : st.state === 'failed' ? ':x:' : ':arrows_counterclockwise:') : ':white_circle:';
          return `${icon} ${esc(s)}${st && st.attempts > 1 ? ` (attempt ${st.attempts})` : ''}${st?.error ? ` — ${esc(truncate(st.error, 200))}` : ''}`;
        })
        .join('\n')}`,
    ),
  ];
  if (approvals.length) blocks.push(section(`*Decisions*\n${approvals.map((a) => `${a.decision === 'approve' ? ':white_check_mark:' : ':no_entry:'} ${user(a.approver)} ${a.decision}d ${when(a.at)}${a.reason ? `: ${esc(a.reason)}` : ''}`).join('\n')}`));
  if (run.error) blocks.push(section(`*Error:* ${esc(run.error)}`));
  blocks.push(context(`Created ${when(run.createdAt)}${run.finishedAt ? ` · finished ${when(run.finishedAt)}` : ''}${threadLink ? ` · <${threadLink}|thread>` : ''}`));
  return { text: `Run ${run.id}: ${STATE_LABEL[run.state]}`, blocks: fitMessage(blocks) };
}

export function auditMessage(rows: AuditRow[], scope: string): Message {
  if (!rows.length) return infoMessage(`No audit entries ${esc(scope)}.`);
  const lines = rows.map((r) => `\`${r.at.slice(0, 19).replace('T', ' ')}\` ${user(r.actor)} *${esc(r.action)}* ${r.target ? code(r.target, 60) : ''} ${r.runId ? `\`${r.runId}\`` : ''} → ${esc(r.outcome)}`);
  const blocks: Block[] = [header(`Audit ${scope}`)];
  for (let i = 0; i < lines.length; i += 20) blocks.push(section(lines.slice(i, i + 20).join('\n')));
  return { text: `Audit ${esc(scope)}`, blocks: fitMessage(blocks) };
}

export function auditVerifyMessage(r: ChainReport): Message {
  if (r.ok) return infoMessage(`:white_check_mark: Audit chain verified: ${r.rows} row(s), every hash and link intact.`);
  return errorMessage(`Audit chain BROKEN at row ${esc(r.brokenAt!.id)}: ${esc(r.brokenAt!.reason)}. ${r.rows} row(s) checked. Treat the audit log after this row as untrusted and investigate who changed the database.`);
}

export { divider };
