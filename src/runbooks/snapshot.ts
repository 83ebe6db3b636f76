import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { badInput } from '../errors.js';
import { sanitizeSnapshotName, snapshotId, ProviderError, type SnapshotCheckpoint } from '../providers/index.js';
import { pollIntervalMs } from './poll-interval.js';
import { checkedProvider, providerOf } from './providers.js';
import { defineRunbook, type Fact } from './runbook.js';
import { formatBytes, formatTime, restoreHint, restoreNote, sizeLabel, snapshotJson, type SnapshotJson } from './snapshot-format.js';

const args = z
  .object({
    name: z.string().min(1).max(200, 'a snapshot name is at most 200 characters').optional(),
  })
  .strict();
type Args = z.infer<typeof args>;

/**
 * The snapshot's id is decided at request time and is part of the facts, so the approval binds to
 * it and every attempt of the run (retries, resumes on another worker) acts on that one id: "already
 * exists" for it then means "already started", never a second snapshot.
 */
interface Facts {
  snapshotId: string;
  engine: string;
  /** From --name: the user chose it, so it must not exist yet. */
  named: boolean;
  /** How to restore from it, with the target's own names (result() does not see the target). */
  restore: string;
  restoreNote: string;
}

interface StartOutput {
  snapshotId: string;
  alreadyStarted: boolean;
  startedAt: string;
}

interface WaitOutput {
  snapshot: SnapshotJson;
  durationMs: number;
}

const VERB = '/db snapshot';

const IMPACT: Record<string, string> = {
  'aws-rds': 'RDS snapshots the instance’s storage. On a Single-AZ instance I/O can pause briefly when it starts; Multi-AZ takes it from the standby.',
  'aws-aurora': 'Aurora snapshots the cluster volume: no I/O pause and no effect on the instances.',
  'azure-flexible': 'An on-demand backup of the flexible server: no downtime; it counts against backup storage.',
  'self-hosted': 'pg_dump reads every table in one consistent snapshot on one session (ACCESS SHARE locks: only DDL such as ALTER/DROP TABLE waits).',
};

/** Where the engine's operation is, as the run last saw it (the run's checkpoint is JSON). */
function savedCheckpoint(cp: Readonly<Record<string, unknown>>, id: string): SnapshotCheckpoint | undefined {
  const s = cp.snapshot as SnapshotCheckpoint | undefined;
  return s && typeof s === 'object' && s.snapshotId === id ? s : undefined;
}

export const snapshot = defineRunbook<Args, Facts>({
  name: 'snapshot',
  brief: 'Take a snapshot (cloud) or a pg_dump (self-hosted)',
  summary: 'Take a snapshot (cloud) or a pg_dump with a manifest (self-hosted); progress in the thread while the engine works.',
  usage: '/db snapshot <target> [--name NAME]',
  examples: ['/db snapshot orders-prod', '/db snapshot orders-prod --name before-migration-42 --reason "schema change #42"'],
  grammar: { positionals: [], flags: { name: { kind: 'string', help: 'snapshot name (letters, digits, hyphens; default dbops-<target>-<time>-<id>)' } } },
  args,
  risk: () => 'change',
  plan: async ({ target, args: a }) => {
    const provider = checkedProvider(target, 'snapshot', VERB);
    let id: string;
    if (a.name !== undefined) {
      const clean = sanitizeSnapshotName(a.name);
      if (!clean) throw badInput('`--name` needs letters or digits, e.g. `--name before-migration-42`.');
      // A name the user chose may already be taken; an id of ours never is (it carries a nonce).
      const existing = await provider.listSnapshots({ type: 'all' });
      if (existing.some((s) => s.id === clean)) {
        throw new ProviderError(target.engine, 'already_exists', `A snapshot named ${clean} already exists on ${target.name}. Choose another --name (see \`/db snapshots ${target.name}\`).`);
      }
      id = clean;
    } else {
      // The run id does not exist yet when the plan is made: a nonce of the request stands in for it.
      id = snapshotId(target.name, randomBytes(4).toString('hex'), new Date());
    }
    const facts: Facts = { snapshotId: id, engine: target.engine, named: a.name !== undefined, restore: restoreHint(target, id), restoreNote: restoreNote(target.engine) };
    return {
      summary: `Snapshot ${target.name} as ${id}`,
      steps: [target.engine === 'self-hosted' ? `pg_dump into the backup store as ${id}, with a manifest` : `Ask ${target.engine} to create snapshot ${id}`, 'Wait until the engine reports it available (progress in the thread)'],
      facts,
      display: [
        { label: 'Snapshot', value: id, code: true },
        { label: 'Engine', value: target.engine },
      ],
      impact: IMPACT[target.engine] ?? 'Takes a snapshot.',
    };
  },
  // The default id differs at every plan (its nonce); the approved one is what runs. A taken --name
  // (the re-plan throws) or a target that can no longer snapshot withdraws the approval.
  drift: (approved, current) => {
    if (current === null) return { ok: false, note: approved.named ? `the snapshot name ${approved.snapshotId} is taken now, or the target cannot take snapshots` : 'the target cannot take snapshots now' };
    if (current.engine !== approved.engine) return { ok: false, note: 'the target’s engine changed' };
    return { ok: true };
  },
  steps: [
    {
      name: 'start',
      title: 'Starting the snapshot',
      run: async (ctx) => {
        const id = ctx.facts.snapshotId;
        const startedAt = typeof ctx.checkpoint.snapshotStartedAt === 'string' ? ctx.checkpoint.snapshotStartedAt : new Date().toISOString();
        // Started by an earlier attempt that died before recording the step: re-attach, do not start again.
        if (savedCheckpoint(ctx.checkpoint, id)) return { snapshotId: id, alreadyStarted: true, startedAt } satisfies StartOutput;
        await ctx.saveCheckpoint({ snapshotStartedAt: startedAt });
        const provider = providerOf(ctx.target);
        const r = await provider.startSnapshot(id, {
          signal: ctx.signal,
          // Self-hosted dumps inside this call: its progress is the thread's.
          onProgress: (p) => ctx.progress({ text: p.message, ...(p.percent !== undefined ? { percent: p.percent } : {}) }),
        });
        await ctx.saveCheckpoint({ snapshot: r.checkpoint });
        ctx.log.info({ snapshotId: id, alreadyStarted: r.alreadyStarted }, 'snapshot started');
        return { snapshotId: id, alreadyStarted: r.alreadyStarted, startedAt } satisfies StartOutput;
      },
    },
    {
      name: 'wait',
      title: 'Snapshot in progress',
      run: async (ctx) => {
        const id = ctx.facts.snapshotId;
        const start = ctx.outputs.start as StartOutput;
        const cp = savedCheckpoint(ctx.checkpoint, id) ?? { engine: ctx.target.engine, snapshotId: id };
        // One look; a not-done snapshot parks the run (no worker held) until the next one.
        const r = await providerOf(ctx.target).pollSnapshot(cp, { signal: ctx.signal });
        await ctx.saveCheckpoint({ snapshot: r.checkpoint });
        if (!r.done) {
          const pct = r.progress?.percent ?? r.snapshot?.progressPercent;
          return ctx.pollAgain(pollIntervalMs(), { text: `${id}: ${r.progress?.message ?? 'creating'}`, ...(pct !== undefined ? { percent: pct } : {}) });
        }
        const snap = snapshotJson(r.snapshot ?? { id, type: 'manual', status: 'available' });
        return { snapshot: snap, durationMs: Math.max(0, Date.now() - Date.parse(start.startedAt)) } satisfies WaitOutput;
      },
    },
  ],
  leftState: (step, facts) => {
    const id = facts.snapshotId;
    if (facts.engine === 'self-hosted') {
      return step === 'start'
        ? `The dump ${id} did not finish: without its manifest it is not listed, verified or restorable, and a partial artifact may be left in the store until the next run with that id. The database was not changed.`
        : `The dump ${id} is not in the store as finished. The database was not changed.`;
    }
    return step === 'start'
      ? `Snapshot ${id} may or may not have been started by the engine; if it was, it finishes on its own. \`/db snapshots\` shows it. The database was not changed.`
      : `Snapshot ${id} was started: unless the engine reported it failed, it is still being created and will finish on its own; \`/db snapshots\` shows its state. The database was not changed.`;
  },
  result: (outputs, facts) => {
    const start = outputs.start as StartOutput;
    const w = outputs.wait as WaitOutput;
    const engine = facts.engine as Parameters<typeof sizeLabel>[0];
    const out: Fact[] = [
      { label: 'Snapshot', value: w.snapshot.id, code: true },
      { label: sizeLabel(engine), value: formatBytes(w.snapshot.sizeBytes) },
      { label: 'Duration', value: formatDuration(w.durationMs / 1000) },
      { label: 'Created', value: formatTime(w.snapshot.createdAt) },
    ];
    out.push({ label: 'Restore', value: facts.restore, code: true }, { label: 'Restore note', value: facts.restoreNote });
    if (start.alreadyStarted) out.push({ label: 'Note', value: 'an earlier attempt of this run had already started it; no second snapshot was made' });
    return { headline: `Snapshot ${w.snapshot.id} is ${w.snapshot.engineStatus ?? w.snapshot.status}`, facts: out };
  },
});

