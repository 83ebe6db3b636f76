import { z } from 'zod';
import { DbopsError } from '../errors.js';
import { restoredMark, restoringMark } from '../providers/restore-self-hosted.js';
import { databaseInfo, databaseOf, databasesMarked, oldName } from '../postgres/rename.js';
import { captureSwapSessions, sessionDetail, swapDisplay, swapDrift, withAdmin, type SwapFacts, type SwapOutput } from './db-swap.js';
import { isCloud, KIND } from './restore-cloud.js';
import { defineRunbook } from './runbook.js';
import { cloudSwapLeftState, planCloudCutover, type CloudSwapFacts, type CloudSwapOutput } from './swap-cloud.js';
import { sessionsEnded, swapPlanSteps, swapStep } from './swap-step.js';

const runIdArg = (what: string) => z.string().regex(/^r_[a-z0-9]{6,40}$/, `name the ${what} run, like r_k3x9q2a8 (see \`/db runs\`)`);

const args = z.object({ restore: runIdArg('restore') }).strict();
type Args = z.infer<typeof args>;

interface Facts extends SwapFacts {
  original: string;
  restored: string;
  old: string;
  restoreRun: string;
  /** Cloud engines (swap-cloud.ts): an identifier rename swap, no sessions to drain. */
  cloud?: CloudSwapFacts['cloud'];
}

/**
 * `/db cutover <target> <restore-run>`: the restored database takes the target's name. Always
 * destructive: every application connected to the target is disconnected and then reads other data.
 * The previous database is kept as `<database>_old_<yyyymmdd>`; `/db rollback` swaps back.
 */
export const cutover = defineRunbook<Args, Facts>({
  name: 'cutover',
  brief: 'Swap a finished restore in under the target’s name',
  summary: "Swap a finished self-hosted restore in: the target's database is renamed to <database>_old_<yyyymmdd>, the restored one takes its name. Sessions are drained with connections blocked.",
  usage: '/db cutover <target> <restore-run-id>',
  examples: ['/db cutover orders-prod r_k3x9q2a8 --reason "restore after the bad DELETE"'],
  grammar: { positionals: [{ name: 'restore', required: true, help: 'the run id of a finished `/db restore`' }], flags: {} },
  args,
  risk: () => 'destructive',
  plan: async ({ target, args: a }) => {
    if (isCloud(target)) {
      const f: Facts = { ...(await planCloudCutover(target, a.restore)), restoreRun: a.restore };
      const k = KIND[target.engine];
      return {
        summary: `Cut ${target.name} over to the restored ${k} ${f.restored} (restore ${a.restore})`,
        steps: [`Rename ${f.original} → ${f.old}; wait until ${f.old} is available`, `Rename ${f.restored} → ${f.original}; wait until ${f.original} is available`],
        facts: f,
        display: swapDisplay(f),
        impact: `${f.original} is unreachable while the renames apply (minutes: each one restarts the ${k}'s endpoint); applications then reach ${f.original}'s endpoint name, served by the RESTORED data (allow for DNS caching). The current ${k} is kept as ${f.old}. Undo: \`/db rollback ${target.name}\` with this run's id.`,
        etaSeconds: 600,
      };
    }
    const facts = await withAdmin(target, async (c): Promise<Facts> => {
      const original = databaseOf(target.url);
      const marked = (await databasesMarked(c, restoringMark(a.restore))).filter((d) => d.comment === restoringMark(a.restore) || d.comment === restoredMark(a.restore));
      const restored = marked.find((d) => d.comment === restoredMark(a.restore));
      if (!restored) {
        throw new DbopsError(
          'not_found',
          marked.length
            ? `The restore ${a.restore} has not finished (its database ${marked[0]!.name} is not complete). Wait for it, or see \`/db run ${a.restore}\`.`
            : `No finished restore ${a.restore} on ${target.name}'s server (it was already cut over, dropped, or belongs to another target). See \`/db runs ${target.name}\`.`,
        );
      }
      const cur = await databaseInfo(c, original);
      if (!cur) throw new DbopsError('not_found', `${target.name}'s database ${original} does not exist; nothing to cut over.`);
      const old = oldName(original, new Date());
      if (await databaseInfo(c, old)) throw new DbopsError('conflict', `A database named ${old} already exists (an earlier cutover today?). Rename or drop it first; nothing was changed.`);
      const sessions = await captureSwapSessions(c, target, [original, restored.name]);
      return {
        original,
        restored: restored.name,
        old,
        restoreRun: a.restore,
        renames: [
          { from: original, to: old, mark: { role: 'old', was: original, prior: cur.comment }, before: cur.comment },
          { from: restored.name, to: original, mark: { role: 'live', was: restored.name, restore: a.restore }, before: restored.comment },
        ],
        sessions,
      };
    });
    return {
      summary: `Cut ${target.name} over to the restored database ${facts.restored} (restore ${a.restore})`,
      steps: swapPlanSteps(facts, ' (ALLOW_CONNECTIONS false, CONNECTION LIMIT 0)'),
      facts,
      display: swapDisplay(facts),
      detail: sessionDetail(facts),
      impact: `Every session on ${facts.original} is ended and connections are refused for the seconds the renames take; applications then reconnect to ${facts.original}, which serves the RESTORED data. The current data is kept as ${facts.old}. Undo: \`/db rollback ${target.name}\` with this run's id.`,
      etaSeconds: 15,
    };
  },
  drift: swapDrift,
  steps: [swapStep<Args, Facts>('Cutting over')],
  leftState: (_s, f) =>
    f.cloud ? cloudSwapLeftState(f as CloudSwapFacts) : `If the step failed before renaming, nothing was renamed; if a rename failed, the ones done were undone, so ${f.original} still serves the original data. Connection settings of both databases were put back (if the bot itself died mid-way, connections may still be blocked: resuming the run finishes or undoes the swap).`,
  result: (outputs, f) => {
    if (f.cloud) {
      const c = outputs.swap as CloudSwapOutput & { runId: string; target: string };
      return {
        headline: `${c.target}'s ${KIND[f.cloud.engine]} ${f.original} is now the restored one (restore ${f.restoreRun}); the previous one is ${f.old}`,
        facts: [
          { label: 'Renamed', value: `${f.original} → ${f.old}\n${f.restored} → ${f.original}`, code: true },
          ...(c.alreadyDone ? [{ label: 'Note', value: `${c.alreadyDone} rename(s) had been done by an earlier attempt of this run` }] : []),
          { label: 'Roll back', value: `/db rollback ${c.target} ${c.runId}`, code: true },
        ],
      };
    }
    const o = outputs.swap as SwapOutput & { runId: string; target: string };
    return {
      headline: `${o.target}'s database ${f.original} now serves the restored data (restore ${f.restoreRun}); the previous data is ${f.old}`,
      facts: [
        { label: 'Renamed', value: `${f.original} → ${f.old}\n${f.restored} → ${f.original}`, code: true },
        { label: 'Sessions ended', value: sessionsEnded(o) },
        ...(o.alreadyDone ? [{ label: 'Note', value: `${o.alreadyDone} rename(s) had been done by an earlier attempt of this run` }] : []),
        { label: 'Roll back', value: `/db rollback ${o.target} ${o.runId}`, code: true },
      ],
    };
  },
});

export { runIdArg };
