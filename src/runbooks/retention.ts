import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { RETENTION_RANGE, type OperationCheckpoint } from '../providers/emergency.js';
import { retentionProblem } from '../providers/emergency-limits.js';
import { ProviderError } from '../providers/index.js';
import { providerMethod, startStep, waitStep, type WaitOutput } from './engine-op.js';
import { checkedProvider } from './providers.js';
import { defineRunbook, type Fact } from './runbook.js';

const args = z
  .object({
    days: z.string().transform((v, ctx) => {
      if (!/^\d{1,3}$/.test(v)) {
        ctx.addIssue({ code: 'custom', message: `\`${v.slice(0, 20)}\` is not a number of days, like 14` });
        return z.NEVER;
      }
      return Number(v);
    }),
    shrink: z.boolean().optional(),
  })
  .strict();
type Args = z.infer<typeof args>;

interface Facts {
  target: string;
  engine: string;
  /** The retention at plan time: the approval binds to it, and it decided change vs --shrink. */
  current: number;
  days: number;
}

const VERB = '/db retention';

/**
 * Risk is decided from the arguments alone (before the plan reads the engine), so a decrease must
 * say so: the plan refuses a lower value without `--shrink`, and `--shrink` is destructive. A raise
 * is a change; `--shrink` on a raise is refused rather than approved under the wrong label.
 */
export const retention = defineRunbook<Args, Facts>({
  name: 'retention',
  brief: 'Set automated backup retention (lowering needs --shrink)',
  summary: 'Set the automated backup retention (RDS/Aurora BackupRetentionPeriod, Azure backupRetentionDays). Raising is a change; lowering shrinks the restorable window and needs --shrink (destructive).',
  usage: '/db retention <target> <days> [--shrink]',
  examples: ['/db retention orders-prod 14', '/db retention orders-prod 7 --shrink --reason "cost review"'],
  grammar: {
    positionals: [{ name: 'days', required: true, help: 'days to keep automated backups (RDS 0–35, Aurora 1–35, Azure 7–35)' }],
    flags: { shrink: { kind: 'bool', help: 'required to lower the retention: restore points older than the new value are lost' } },
  },
  args,
  risk: (a) => (a.shrink ? 'destructive' : 'change'),
  plan: async ({ target, args: a }) => {
    if (target.engine === 'self-hosted') throw new ProviderError('self-hosted', 'unsupported', `\`${VERB}\` is not on self-hosted: dumps are kept by \`backups.keep\` / \`backups.keepDays\` in the targets file.`);
    const problem = retentionProblem(target.engine, a.days);
    if (problem) throw new ProviderError(target.engine, 'failed', `Not a valid retention: ${problem}.`);
    const p = checkedProvider(target, 'retention', VERB);
    const current = (await p.restorableWindow()).retentionDays;
    if (current === undefined) throw new ProviderError(p.engine, 'failed', `${target.engine} did not report the current retention of ${target.name}, so a decrease cannot be told from an increase. Check it in the console and retry.`);
    if (current === a.days) throw new ProviderError(p.engine, 'failed', `${target.name} already keeps automated backups ${current} days: nothing to change.`);
    const shrinks = a.days < current;
    if (shrinks && !a.shrink) throw new ProviderError(p.engine, 'failed', `Lowering the retention of ${target.name} from ${current} to ${a.days} days shrinks the restorable window: restore points older than ${a.days} days are deleted. To do it, add \`--shrink\` (destructive: it needs approval).`);
    if (!shrinks && a.shrink) throw new ProviderError(p.engine, 'failed', `${current} → ${a.days} days is an increase: drop \`--shrink\` (it is for lowering).`);
    const rds = target.engine === 'aws-rds';
    const impact = [
      shrinks ? `The restorable window shrinks from ${current} to ${a.days} days: automated backups and point-in-time restore points older than that are deleted and cannot be recovered.` : `Automated backups are kept ${a.days} days instead of ${current}: a longer restorable window, and more backup storage billed.`,
      rds && a.days === 0 ? 'On RDS, 0 turns automated backups and point-in-time restore off and deletes the automated backups.' : '',
      rds && (a.days === 0 || current === 0) ? 'AWS: changing the retention from or to 0 causes a brief outage of the instance.' : '',
    ].filter(Boolean).join(' ');
    const range = RETENTION_RANGE[target.engine];
    const display: Fact[] = [
      { label: 'Retention', value: `${current} → ${a.days} days` },
      { label: 'Engine range', value: `${range.min}–${range.max} days` },
    ];
    return {
      summary: `${shrinks ? 'Lower' : 'Raise'} the backup retention of ${target.name} from ${current} to ${a.days} days`,
      steps: [target.engine === 'aws-rds' ? `ModifyDBInstance BackupRetentionPeriod=${a.days}, ApplyImmediately` : target.engine === 'aws-aurora' ? `ModifyDBCluster BackupRetentionPeriod=${a.days}, ApplyImmediately` : `servers update backup.backupRetentionDays=${a.days}`, 'Wait until the engine reports the new retention'],
      facts: { target: target.name, engine: target.engine, current, days: a.days },
      display,
      impact,
      etaSeconds: 60,
    };
  },
  steps: [
    // Setting the same retention again is harmless: a retried step may send it again.
    startStep<Args, Facts>({ title: 'Changing the retention', start: (p, ctx) => providerMethod(p, 'startRetention')(ctx.facts.days) }),
    waitStep<Args, Facts>({
      title: 'Waiting for the engine',
      label: (r) => `retention: ${r.progress.message}`,
      fallback: (ctx): OperationCheckpoint => ({ engine: ctx.target.engine as OperationCheckpoint['engine'], kind: 'retention', want: { days: ctx.facts.days } }),
    }),
  ],
  leftState: (step, facts) =>
    step === 'start' ? `The retention may or may not have been changed; \`/db snapshots ${facts.target}\` shows the retention now.` : `The change to ${facts.days} days was sent: the engine applies it on its own.`,
  result: (outputs, facts) => {
    const w = outputs.wait as WaitOutput;
    return {
      headline: `${facts.target} keeps automated backups ${facts.days} days (was ${facts.current})`,
      facts: [
        { label: 'Retention', value: `${facts.current} → ${facts.days} days` },
        { label: 'Time taken', value: formatDuration(w.durationMs / 1000) },
      ],
    };
  },
});
