/** What backup drills say in Slack: the list, a scheduling reply, and each drill's outcome in the target's channel. */
import type { DrillWithRun } from '../store/drills.js';
import { nextFiring } from '../store/drills.js';
import { context, esc, fields, fitMessage, header, section, type Block } from './blocks.js';
import { infoMessage, type Message } from './messages.js';

const when = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${d.toISOString()}>`;

/** `7d`, `12h`, `90m`, `45s`: the interval as it was typed, not "7d 0h". */
export function everyLabel(ms: number): string {
  const s = Math.round(ms / 1000);
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (s % n === 0) return `${s / n}${unit}`;
  return `${s}s`;
}

const ICON: Record<string, string> = { succeeded: ':white_check_mark:', failed: ':x:', denied: ':no_entry:', expired: ':alarm_clock:', refused: ':no_entry_sign:', queued: ':inbox_tray:', running: ':arrows_counterclockwise:', pending_approval: ':hourglass_flowing_sand:' };

/**
 * The last finished drill's result, then what the latest firing is doing when that is something
 * else (a run in flight, or a firing that made no run and why).
 */
export function lastResult(d: DrillWithRun): string {
  const r = d.result;
  const what = r ? (r.state === 'succeeded' ? r.headline : r.state === 'failed' ? r.error?.split('\n')[0] : undefined) : undefined;
  const parts = [r ? `${ICON[r.state] ?? ''} ${r.state.replace('_', ' ')}${r.finishedAt ? ` ${when(r.finishedAt)}` : ''} (\`${r.runId}\`)${what ? ` — ${esc(what.slice(0, 200))}` : ''}` : 'no finished drill yet'];
  if (d.lastRunId && d.lastRunId !== r?.runId && d.runState) parts.push(`now ${ICON[d.runState] ?? ''} ${d.runState.replace('_', ' ')} (\`${d.lastRunId}\`)`);
  const noRun = d.lastOutcome === 'skipped' || d.lastOutcome === 'not started';
  if (noRun && d.lastFiredAt) parts.push(`:warning: last firing ${d.lastOutcome} ${when(d.lastFiredAt)}${d.lastDetail ? `: ${esc(d.lastDetail.slice(0, 200))}` : ''}`);
  return parts.join(' · ');
}

export function drillsMessage(drills: DrillWithRun[], now = Date.now()): Message {
  if (!drills.length) return infoMessage('No backup drills scheduled. Schedule one with `/db backup drill <target> --every 7d`.');
  const lines = drills.map((d) => `• \`${esc(d.target)}\` — every ${everyLabel(d.everyMs)} · next ${when(nextFiring(d, now))}\n    last: ${lastResult(d)}`);
  const blocks: Block[] = [header('Backup drills'), ...chunk(lines).map((t) => section(t)), context('Each drill runs `/db backup verify` as dbops; results post in the target\'s channel and the audit log. `/db backup drill <target> --off` removes one.')];
  return { text: `Backup drills: ${drills.length}`, blocks: fitMessage(blocks) };
}

/** Sections of at most ~2800 characters (Slack's section limit is 3000). */
function chunk(lines: string[]): string[] {
  const out: string[] = [];
  let cur = '';
  for (const l of lines) {
    if (cur && cur.length + l.length + 1 > 2800) {
      out.push(cur);
      cur = '';
    }
    cur = cur ? `${cur}\n${l}` : l;
  }
  if (cur) out.push(cur);
  return out;
}

/** Posted in the target's channel when a drill's run has finished. */
export function drillResultMessage(d: DrillWithRun): Message {
  const t = `\`${esc(d.target)}\``;
  const run = `Run \`${d.lastRunId}\` · \`/db run ${d.lastRunId}\` · drill every ${everyLabel(d.everyMs)}, next ${when(nextFiring(d))}`;
  if (d.runState === 'succeeded') {
    const blocks: Block[] = [section(`:white_check_mark: *Backup drill of ${t} passed* — ${esc(d.runHeadline ?? 'verified')}`), ...fields(d.runFacts), context(run)];
    return { text: `Backup drill of ${esc(d.target)} passed`, blocks: fitMessage(blocks) };
  }
  if (d.runState === 'failed') {
    return { text: `Backup drill of ${esc(d.target)} FAILED`, blocks: [section(`:x: *Backup drill of ${t} FAILED*`), section(esc(d.runError ?? 'The run failed; see its thread.')), context(run)] };
  }
  return { text: `Backup drill of ${esc(d.target)} did not run (${d.runState})`, blocks: [section(`${ICON[d.runState ?? ''] ?? ':warning:'} *Backup drill of ${t} did not run*: its verify run was ${esc(d.runState ?? 'not finished')}${d.runError ? ` (${esc(d.runError)})` : ''}.`), context(run)] };
}

/** Posted in the target's channel when a firing made no run. */
export function drillNotRunMessage(target: string, outcome: string, detail: string): Message {
  return { text: `Backup drill of ${esc(target)} ${outcome}: ${esc(detail)}`, blocks: [section(`:warning: *Backup drill of \`${esc(target)}\` ${outcome}*: ${esc(detail)}`)] };
}
