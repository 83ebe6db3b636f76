import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { badInput } from '../errors.js';
import type { OperationCheckpoint, Topology } from '../providers/emergency.js';
import { ProviderError } from '../providers/index.js';
import { providerMethod, startStep, waitStep, type WaitOutput } from './engine-op.js';
import { checkedProvider } from './providers.js';
import { defineRunbook, type Fact } from './runbook.js';
import { nameFlag } from './session-args.js';

const args = z.object({ to: nameFlag.optional(), forced: z.boolean().optional() }).strict();
type Args = z.infer<typeof args>;

interface Facts {
  target: string;
  engine: string;
  /** Writer and zone at plan time: the approval binds to them (someone else's failover meanwhile withdraws it). */
  before: { writer?: string; zone?: string };
  to?: string;
  forced: boolean;
}

const VERB = '/db failover';

const IMPACT: Record<string, string> = {
  'aws-aurora': 'Aurora promotes a reader to writer and restarts the old writer as a reader. Connections to the writer drop and in-flight transactions roll back; the cluster endpoint points at the new writer after a short DNS switch (typically under a minute).',
  'aws-rds': 'RDS reboots the primary and the Multi-AZ standby takes over in its zone. Connections drop and in-flight transactions roll back; typically one to two minutes without a writer. The endpoint name stays the same.',
  'azure-flexible': 'Azure restarts the server and the HA standby becomes the primary. Connections drop and in-flight transactions roll back; typically one to two minutes. The server name stays the same.',
};

const where = (w: { writer?: string; zone?: string }) => `${w.writer ?? '?'}${w.zone ? ` (${w.zone})` : ''}`;

function members(t: Topology): string {
  return t.members.map((m) => `${m.role.padEnd(7)} ${m.id}${m.zone ? ` ${m.zone}` : ''}${m.status ? ` ${m.status}` : ''}`).join('\n');
}

export const failover = defineRunbook<Args, Facts>({
  name: 'failover',
  brief: 'Fail over to the standby or a reader',
  summary: 'Fail over to the standby or a reader (Aurora FailoverDBCluster, RDS Multi-AZ reboot with failover, Azure HA restart with failover); reports writer and zone before and after.',
  usage: '/db failover <target> [--to INSTANCE] [--forced]',
  examples: ['/db failover orders-prod --reason "writer degraded"', '/db failover orders-prod --to orders-prod-2'],
  grammar: {
    positionals: [],
    flags: {
      to: { kind: 'string', help: 'Aurora: the reader instance to promote (default: AWS picks by promotion tier)' },
      forced: { kind: 'bool', help: 'Azure: ForcedFailover (does not wait for the primary; for an unresponsive primary) instead of PlannedFailover' },
    },
  },
  args,
  risk: () => 'destructive',
  plan: async ({ target, args: a }) => {
    if (target.engine === 'self-hosted') throw new ProviderError('self-hosted', 'unsupported', `\`${VERB}\` is not on self-hosted: the bot does not manage replicas there. Promote a standby with your HA tooling (Patroni, repmgr, \`pg_ctl promote\`).`);
    if (a.to && target.engine !== 'aws-aurora') throw badInput(`\`--to\` names an Aurora reader; ${target.engine} has one standby, so there is nothing to choose.`);
    if (a.forced && target.engine !== 'azure-flexible') throw badInput(`\`--forced\` is Azure's ForcedFailover; ${target.engine} has no such mode.`);
    const p = checkedProvider(target, 'failover', VERB);
    const t = await providerMethod(p, 'topology')();
    if (t.cannotFailover) throw new ProviderError(p.engine, 'unsupported', `${target.name} cannot fail over: ${t.cannotFailover}`);
    if (!t.available) throw new ProviderError(p.engine, 'wrong_state', `${target.name} is ${t.status} now: a failover needs it available. Retry when \`/db status ${target.name}\` shows it available.`);
    if (a.to) {
      const m = t.members.find((x) => x.id === a.to);
      if (!m) throw badInput(`\`--to ${a.to}\` is not an instance of this cluster. Its instances: ${t.members.map((x) => x.id).join(', ')}.`);
      if (m.role === 'writer') throw badInput(`\`--to ${a.to}\` is the writer already. Name a reader: ${t.members.filter((x) => x.role !== 'writer').map((x) => x.id).join(', ')}.`);
      if (m.status && m.status !== 'available') throw new ProviderError(p.engine, 'wrong_state', `The reader ${a.to} is ${m.status}: it can be promoted only when available.`);
    }
    const before = { ...(t.writer ? { writer: t.writer } : {}), ...(t.zone ? { zone: t.zone } : {}) };
    const display: Fact[] = [
      { label: 'Writer now', value: where(before), code: true },
      { label: 'Members', value: members(t), code: true },
      { label: 'Promote', value: a.to ?? (target.engine === 'aws-aurora' ? 'the reader AWS picks (promotion tier)' : 'the standby') },
      ...(target.engine === 'azure-flexible' ? [{ label: 'Mode', value: a.forced ? 'ForcedFailover' : 'PlannedFailover' }] : []),
    ];
    return {
      summary: `Fail over ${target.name} (${target.engine}) from ${where(before)}${a.to ? ` to ${a.to}` : ''}`,
      steps: [
        target.engine === 'aws-aurora' ? `FailoverDBCluster${a.to ? ` --target-db-instance-identifier ${a.to}` : ''}` : target.engine === 'aws-rds' ? 'RebootDBInstance --force-failover' : `servers restart with failover (${a.forced ? 'ForcedFailover' : 'PlannedFailover'})`,
        'Wait until the engine reports it available with the new writer / zone (progress in the thread)',
      ],
      facts: { target: target.name, engine: target.engine, before, ...(a.to ? { to: a.to } : {}), forced: a.forced === true },
      display,
      impact: IMPACT[target.engine]!,
      etaSeconds: 120,
    };
  },
  steps: [
    startStep<Args, Facts>({
      title: 'Starting the failover',
      start: async (p, ctx) => providerMethod(p, 'startFailover')({ ...(ctx.facts.to ? { to: ctx.facts.to } : {}), forced: ctx.facts.forced }),
      // A crash after the request but before its answer was saved: if the writer or the state moved,
      // the failover is under way; sending it again would fail over a second time.
      alreadyStarted: async (p, ctx) => {
        const t = await providerMethod(p, 'topology')();
        const moved = (t.writer !== undefined && t.writer !== ctx.facts.before.writer) || (t.zone !== undefined && t.zone !== ctx.facts.before.zone) || !t.available;
        return moved ? { engine: p.engine, kind: 'failover', before: ctx.facts.before } : undefined;
      },
    }),
    waitStep<Args, Facts>({
      title: 'Failover in progress',
      label: (r) => `failing over: ${r.progress.message}`,
      fallback: (ctx): OperationCheckpoint => ({ engine: ctx.target.engine as OperationCheckpoint['engine'], kind: 'failover', before: ctx.facts.before }),
    }),
  ],
  leftState: (step) =>
    step === 'start'
      ? 'The failover may or may not have been sent to the engine; `/db status` and the engine’s events show whether the writer changed. Do not request another one before checking.'
      : 'The failover was sent: the engine completes it on its own. `/db status` and the engine’s events show the writer now.',
  result: (outputs, facts) => {
    const w = outputs.wait as WaitOutput;
    const t = w.poll.topology;
    const after = { ...(t?.writer ? { writer: t.writer } : {}), ...(t?.zone ? { zone: t.zone } : {}) };
    const out: Fact[] = [
      { label: 'Before', value: where(facts.before), code: true },
      { label: 'After', value: where(after), code: true },
      { label: 'Time taken', value: formatDuration(w.durationMs / 1000) },
      ...(t ? [{ label: 'Members', value: members(t), code: true }] : []),
    ];
    const same = after.writer === facts.before.writer && after.zone === facts.before.zone;
    return {
      headline: `Failover of ${facts.target} done: writer ${where(facts.before)} → ${where(after)} in ${formatDuration(w.durationMs / 1000)}`,
      facts: out,
      ...(same ? { warning: 'The engine reports the same writer and zone as before the failover: check its events to see whether it really failed over.' } : {}),
    };
  },
});
