import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { replication, type Replication, type Slot } from '../postgres/replication.js';
import { severity, thresholdsFor, type Severity, type Thresholds } from '../postgres/thresholds.js';
import { code, esc } from '../slack/blocks.js';
import { ago, bullets, bytes, flag, flagCount, worst } from './report-format.js';
import { defineRunbook, type ReportSection } from './runbook.js';

const args = z.object({}).strict();
type Args = z.infer<typeof args>;

type Output = {
  database: string;
  rep: Replication;
  flags: { replicas: Severity[]; slots: Severity[] };
};

/**
 * A slot is flagged for the WAL it keeps while nobody consumes it (it grows until the disk fills),
 * and whatever its activity once its WAL is at risk: `unreserved` is past max_wal_size and will be
 * lost at the next checkpoint, `lost` cannot be used any more.
 */
export function slotSeverity(s: Slot, t: Thresholds): Severity {
  const byWal = s.walStatus === 'lost' ? 'critical' : s.walStatus === 'unreserved' ? 'warn' : 'ok';
  return worst([byWal, s.active ? 'ok' : severity(s.retainedBytes, t.inactiveSlotBytes)]);
}

function slotLine(s: Slot, f: Severity): string {
  const state = s.active ? `active (pid ${s.activePid ?? '?'})` : `*inactive*${s.inactiveSince ? ` since ${ago(s.inactiveSince)}` : ''}`;
  const kind = s.type === 'logical' ? `logical (${esc(s.plugin ?? '?')}${s.database ? ` on ${code(s.database, 60)}` : ''})` : 'physical';
  const retained = s.retainedBytes === null ? 'no WAL reserved' : `${s.active ? 'retains' : 'holding'} *${bytes(s.retainedBytes)}* of WAL`;
  return `• ${code(s.name, 64)} ${kind} · ${state} · ${retained}${s.walStatus ? ` · wal_status ${esc(s.walStatus)}` : ''}${s.safeWalBytes !== null ? ` · ${bytes(s.safeWalBytes)} until at risk` : ''}${flag(f)}`;
}

export const replicationReport = defineRunbook<Args, Record<string, never>>({
  name: 'replication',
  brief: 'Replica lag and slots holding WAL',
  summary: 'Replicas with their lag in bytes and time, replication slots with the WAL they retain; inactive slots holding WAL are flagged.',
  usage: '/db replication <target>',
  examples: ['/db replication orders-prod'],
  grammar: { positionals: [], flags: {} },
  args,
  risk: () => 'read',
  plan: async ({ target }) => ({ summary: `Replication on ${target.name}`, steps: ['Read pg_stat_replication and pg_replication_slots (read-only)'], facts: {}, display: [] }),
  steps: [
    {
      name: 'replication',
      run: async ({ session, target }): Promise<Output> => {
        const t = thresholdsFor(target);
        const [database, rep] = await session(async (c) => [(await c.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d, await replication(c)] as const);
        return {
          database,
          rep,
          flags: {
            // A client that only receives (pg_receivewal, a backup) reports no replay: its flush position counts.
            replicas: rep.replicas.map((r) =>
              r.replayLagBytes === null
                ? severity(r.flushLagBytes, t.replicationLagBytes)
                : worst([severity(r.replayLagBytes, t.replicationLagBytes), severity(r.replayLagSeconds, t.replicationLagSeconds)]),
            ),
            slots: rep.slots.map((s) => slotSeverity(s, t)),
          },
        };
      },
    },
  ],
  result: (outputs) => {
    const o = outputs.replication as Output;
    const flagged = flagCount([...o.flags.replicas, ...o.flags.slots]);
    return { headline: `Replication on ${o.database}: ${o.rep.replicas.length} replica(s), ${o.rep.slots.length} slot(s)${flagged ? `, ${flagged}` : ''}`, facts: [] };
  },
  report: (outputs, _f, _a, target) => {
    const { rep, flags } = outputs.replication as Output;
    const sections: ReportSection[] = [];
    if (rep.standby) {
      sections.push({
        title: `${target.name} is a standby`,
        mrkdwn: `Received but not replayed: *${bytes(rep.standby.receiveReplayBytes)}* · last replayed transaction ${rep.standby.replaySeconds === null ? 'unknown' : `${formatDuration(rep.standby.replaySeconds)} ago`}. The replicas and slots below are its own (cascading).`,
      });
    }
    sections.push({
      title: `${rep.standby ? 'Cascading replicas' : `${target.name} · replicas`} (pg_stat_replication)`,
      mrkdwn: bullets(
        rep.replicas,
        15,
        (r, i) =>
          `• ${code(r.application || '(no name)', 60)}${r.clientAddr ? ` from ${code(r.clientAddr, 60)}` : ''} · ${esc(r.state ?? '?')}${r.syncState ? `, ${esc(r.syncState)}` : ''}${r.slot ? ` · slot ${code(r.slot, 64)}` : ''}\n   lag: replay ${r.replayLagBytes === null ? '*not reported* (it does not replay)' : `*${bytes(r.replayLagBytes)}*${r.replayLagSeconds !== null ? ` (${formatDuration(r.replayLagSeconds)})` : ''}`} · flush ${bytes(r.flushLagBytes)} · sent ${bytes(r.sentLagBytes)}${flag(flags.replicas[i]!)}`,
        'No replicas are connected.',
      ),
    });
    sections.push({
      title: 'Replication slots (the whole cluster)',
      mrkdwn: bullets(rep.slots, 20, (s, i) => slotLine(s, flags.slots[i]!), 'No replication slots.'),
    });
    if (rep.slots.some((s, i) => !s.active && flags.slots[i] !== 'ok')) {
      sections.push({ mrkdwn: '_An inactive slot keeps WAL until its consumer comes back or the slot is dropped (`SELECT pg_drop_replication_slot(…)`, after checking nobody still needs it)._' });
    }
    return sections;
  },
});
