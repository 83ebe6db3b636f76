import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { maxConnectionsEstimate, scaleProblems } from '../providers/emergency-limits.js';
import { ProviderError } from '../providers/index.js';
import { providerMethod, startStep, waitStep, type WaitOutput } from './engine-op.js';
import { checkedProvider } from './providers.js';
import { defineRunbook, type Fact } from './runbook.js';

const acu = (name: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `needs \`--${name}\` (ACUs, like 0.5 or 8)` : `\`--${name}\` takes a number of ACUs`) })
    .transform((v, ctx) => {
      if (!/^\d{1,3}(\.\d{1,3})?$/.test(v)) {
        ctx.addIssue({ code: 'custom', message: `\`${v.slice(0, 20)}\` is not a number of ACUs, like 0.5 or 8` });
        return z.NEVER;
      }
      return Number(v);
    });
const args = z.object({ min: acu('min'), max: acu('max') }).strict();
type Args = z.infer<typeof args>;

interface Facts {
  target: string;
  current: { min?: number; max?: number };
  min: number;
  max: number;
}

const VERB = '/db scale';
const range = (r: { min?: number; max?: number }) => (r.min === undefined || r.max === undefined ? 'not set (not a Serverless v2 cluster yet)' : `${r.min}–${r.max} ACU`);
const conns = (r: { min?: number; max?: number }) => (r.min === undefined || r.max === undefined ? '-' : `≈ ${maxConnectionsEstimate(r.min, r.max)}`);
export const MAX_CONNECTIONS_NOTE =
  'Approximate: AWS’s documented default for Aurora PostgreSQL Serverless v2 follows the maximum ACU (memory) and is capped at 2,000 with a minimum of 0 or 0.5 ACU; a max_connections set in the parameter group overrides it, and the parameter is static (it applies after an instance restarts).';

export const scale = defineRunbook<Args, Facts>({
  name: 'scale',
  brief: 'Set the Aurora Serverless v2 capacity range',
  summary: 'Set the Aurora Serverless v2 capacity range (ModifyDBCluster ServerlessV2ScalingConfiguration, applied immediately); shows what it means for max_connections.',
  usage: '/db scale <target> --min 0.5 --max 8',
  examples: ['/db scale orders-prod --min 2 --max 16 --reason "load spike"'],
  grammar: {
    positionals: [],
    flags: {
      min: { kind: 'string', help: 'minimum ACU: 0 (auto-pause) or 0.5–256 in 0.5 steps' },
      max: { kind: 'string', help: 'maximum ACU: 1–256 in 0.5 steps, at least --min' },
    },
  },
  args,
  risk: () => 'destructive',
  plan: async ({ target, args: a }) => {
    if (target.engine !== 'aws-aurora') throw new ProviderError(target.engine, 'unsupported', `\`${VERB}\` is not on ${target.engine}: only Aurora Serverless v2 clusters scale by an ACU range.`);
    // The engine's limits, checked before any call (the API takes them as plain doubles).
    const problems = scaleProblems(a.min, a.max);
    if (problems.length) throw new ProviderError(target.engine, 'failed', `Not a valid Serverless v2 range: ${problems.join('; ')}.`);
    const p = checkedProvider(target, 'scale', VERB);
    const now = await providerMethod(p, 'scaling')();
    if (now.status !== 'available') throw new ProviderError(p.engine, 'wrong_state', `${target.name} is ${now.status} now: the range can be changed when it is available.`);
    if (now.min === a.min && now.max === a.max) throw new ProviderError(p.engine, 'failed', `${target.name} already scales ${range(now)}: nothing to change.`);
    const current = { ...(now.min !== undefined ? { min: now.min } : {}), ...(now.max !== undefined ? { max: now.max } : {}) };
    const display: Fact[] = [
      { label: 'Range now', value: range(current) },
      { label: 'New range', value: range(a) },
      { label: 'max_connections (default)', value: `${conns(current)} → ${conns(a)}` },
      { label: 'Serverless v2 instances', value: `${now.serverlessInstances} of ${now.instances}` },
      { label: 'Note', value: MAX_CONNECTIONS_NOTE },
    ];
    const lower = current.max !== undefined && a.max < current.max;
    return {
      summary: `Scale ${target.name} to ${a.min}–${a.max} ACU (now ${range(current)})`,
      steps: [`ModifyDBCluster ServerlessV2ScalingConfiguration MinCapacity=${a.min} MaxCapacity=${a.max}, ApplyImmediately`, 'Wait until the cluster is available with the new range'],
      facts: { target: target.name, current, min: a.min, max: a.max },
      display,
      impact: [
        now.serverlessInstances === 0 ? 'No instance of this cluster is db.serverless: the range applies only to Serverless v2 instances added later.' : `Applies to the ${now.serverlessInstances} db.serverless instance(s) at once, without a restart.`,
        lower ? `A lower maximum caps CPU and memory at ${a.max} ACU: a busy instance is scaled down and may slow.` : '',
        a.min === 0 ? 'A minimum of 0 lets idle instances pause: the first connection after a pause waits while it resumes.' : '',
      ].filter(Boolean).join(' '),
      etaSeconds: 30,
    };
  },
  steps: [
    // ModifyDBCluster with the same range is harmless: a retried step may send it again.
    startStep<Args, Facts>({ title: 'Changing the capacity range', start: (p, ctx) => providerMethod(p, 'startScale')({ min: ctx.facts.min, max: ctx.facts.max }) }),
    waitStep<Args, Facts>({
      title: 'Waiting for the cluster',
      label: (r) => `scaling: ${r.progress.message}`,
      fallback: (ctx) => ({ engine: 'aws-aurora', kind: 'scale', want: { min: ctx.facts.min, max: ctx.facts.max } }),
    }),
  ],
  leftState: (step, facts) =>
    step === 'start' ? `The range may or may not have been changed; \`/db scale ${facts.target}\` again shows the range now.` : `The change was sent: the cluster applies ${facts.min}–${facts.max} ACU on its own.`,
  result: (outputs, facts) => {
    const w = outputs.wait as WaitOutput;
    return {
      headline: `${facts.target} scales ${facts.min}–${facts.max} ACU (was ${range(facts.current)})`,
      facts: [
        { label: 'Range', value: `${range(facts.current)} → ${range(facts)}` },
        { label: 'max_connections (default)', value: `${conns(facts.current)} → ${conns(facts)}` },
        { label: 'Time taken', value: formatDuration(w.durationMs / 1000) },
        { label: 'Note', value: MAX_CONNECTIONS_NOTE },
      ],
    };
  },
});
