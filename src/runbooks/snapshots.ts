import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { userMessageOf } from '../errors.js';
import { ENGINE_CAPABILITIES, type RestorableWindow } from '../providers/index.js';
import { checkedProvider, providerOf } from './providers.js';
import { defineRunbook, type ReportSection } from './runbook.js';
import { esc } from '../slack/blocks.js';
import { formatBytes, formatTime, snapshotJson, type SnapshotJson } from './snapshot-format.js';

const args = z
  .object({
    type: z.enum(['manual', 'automated', 'all'], { error: 'must be manual, automated or all' }).default('all'),
    limit: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(100, 'at most 100').default(20),
  })
  .strict();
type Args = z.infer<typeof args>;
type Facts = Record<string, never>;

interface WindowJson {
  granularity: RestorableWindow['granularity'];
  earliest?: string;
  latest?: string;
  retentionDays?: number;
  keep?: number;
}

interface ListOutput {
  snapshots: SnapshotJson[];
  window?: WindowJson;
  /** Why the window could not be read (the list is still shown). */
  windowError?: string;
}

const iso = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d).toISOString());

function windowJson(w: RestorableWindow): WindowJson {
  const earliest = iso(w.earliest);
  const latest = iso(w.latest);
  return {
    granularity: w.granularity,
    ...(earliest ? { earliest } : {}),
    ...(latest ? { latest } : {}),
    ...(w.retentionDays !== undefined ? { retentionDays: w.retentionDays } : {}),
    ...(w.keep !== undefined ? { keep: w.keep } : {}),
  };
}

/** One line above the list: how long backups are kept and what can be restored. */
function windowLine(w: WindowJson | undefined, error: string | undefined): string {
  if (!w) return `_Retention and restorable window unavailable: ${esc(error ?? 'the engine did not say')}_`;
  const keep: string[] = [];
  if (w.retentionDays !== undefined) keep.push(w.retentionDays === 0 ? 'automated backups *off* (retention 0 days)' : `*${w.retentionDays} days*`);
  if (w.keep !== undefined) keep.push(`the newest *${w.keep}* dumps`);
  const retention = `*Retention:* ${keep.length ? keep.join(', ') : 'not set (nothing is pruned)'}`;
  let range: string;
  if (w.granularity === 'continuous') {
    range = w.earliest || w.latest ? `*Restorable window (any point in time):* ${formatTime(w.earliest)} → ${w.latest ? formatTime(w.latest) : 'a few minutes ago'}` : '*Restorable window:* none (no point-in-time restore available)';
  } else {
    range = w.earliest ? `*Restorable:* the listed dumps only, oldest ${formatTime(w.earliest)}, newest ${formatTime(w.latest)}` : '*Restorable:* nothing yet (no finished dump)';
  }
  return `${retention}\n${range}`;
}

function statusOf(s: SnapshotJson): string {
  const word = s.engineStatus ?? s.status;
  return s.status === 'creating' && s.progressPercent !== undefined ? `${word} ${s.progressPercent}%` : word;
}

function table(rows: SnapshotJson[]): string {
  const cols = rows.map((s) => [s.id, s.type, statusOf(s), formatBytes(s.sizeBytes), formatTime(s.createdAt)]);
  const head = ['id', 'type', 'status', 'size', 'created'];
  const width = head.map((h, i) => Math.min(70, Math.max(h.length, ...cols.map((c) => c[i]!.length))));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(width[i]!))).join('  ');
  return [line(head), ...cols.map(line)].join('\n');
}

export const snapshots = defineRunbook<Args, Facts>({
  name: 'snapshots',
  brief: 'Snapshots or dumps, and the restorable window',
  summary: 'Snapshots (or dumps) of a target, newest first, with retention and the restorable window.',
  usage: '/db snapshots <target> [--type manual|automated|all] [--limit N]',
  examples: ['/db snapshots orders-prod', '/db snapshots orders-prod --type manual --limit 5'],
  grammar: {
    positionals: [],
    flags: {
      type: { kind: 'string', help: 'manual (taken on request), automated (the engine’s schedule) or all (default)' },
      limit: { kind: 'string', help: 'how many to show, 1–100 (default 20)' },
    },
  },
  args,
  risk: () => 'read',
  plan: async ({ target }) => {
    checkedProvider(target, 'list', '/db snapshots');
    return { summary: `Snapshots of ${target.name}`, steps: ['List snapshots and read the retention / restorable window'], facts: {}, display: [] };
  },
  steps: [
    {
      name: 'list',
      run: async ({ target, args: a, signal }) => {
        const provider = providerOf(target);
        const list = await provider.listSnapshots({ type: a.type, limit: a.limit });
        const out: ListOutput = { snapshots: list.map(snapshotJson) };
        if (ENGINE_CAPABILITIES[target.engine].has('window')) {
          // The list is the answer; a window that cannot be read is said, not fatal.
          try {
            out.window = windowJson(await provider.restorableWindow({ signal }));
          } catch (err) {
            out.windowError = userMessageOf(err);
          }
        }
        return out as unknown as Record<string, unknown>;
      },
    },
  ],
  result: (outputs, _f, a) => {
    const o = outputs.list as ListOutput;
    const inFlight = o.snapshots.filter((s) => s.status === 'creating').length;
    const kind = a.type === 'all' ? 'snapshot' : `${a.type} snapshot`;
    return { headline: `${o.snapshots.length} ${kind}${o.snapshots.length === 1 ? '' : 's'}${inFlight ? `, ${inFlight} in progress` : ''}`, facts: [] };
  },
  report: (outputs, _f, a, target) => {
    const o = outputs.list as ListOutput;
    const sections: ReportSection[] = [{ mrkdwn: windowLine(o.window, o.windowError) }];
    if (!o.snapshots.length) {
      sections.push({ mrkdwn: `No ${a.type === 'all' ? '' : `${a.type} `}snapshots of \`${esc(target.name)}\` yet. Take one with \`/db snapshot ${esc(target.name)}\`.` });
      return sections;
    }
    sections.push({ title: `Newest first (up to ${a.limit})`, code: table(o.snapshots) });
    const newest = o.snapshots.find((s) => s.status === 'available' && s.createdAt);
    if (newest?.createdAt) sections.push({ mrkdwn: `_Newest available: ${esc(newest.id)}, ${formatDuration((Date.now() - Date.parse(newest.createdAt)) / 1000)} ago._` });
    return sections;
  },
});
