import { z } from 'zod';
import { DbopsError } from '../errors.js';
import { restoredMark } from '../providers/restore-self-hosted.js';
import { databaseInfo, databaseOf, databasesMarked } from '../postgres/rename.js';
import { runIdArg } from './cutover.js';
import { captureSwapSessions, parseSwapMark, sessionDetail, swapDisplay, swapDrift, SWAP_MARK_PREFIX, withAdmin, type SwapFacts, type SwapOutput } from './db-swap.js';
import { isCloud, KIND } from './restore-cloud.js';
import { defineRunbook } from './runbook.js';
import { cloudSwapLeftState, planCloudRollback, type CloudSwapFacts, type CloudSwapOutput } from './swap-cloud.js';
import { sessionsEnded, swapPlanSteps, swapStep } from './swap-step.js';

const args = z.object({ cutover: runIdArg('cutover') }).strict();
type Args = z.infer<typeof args>;

interface Facts extends SwapFacts {
  original: string;
  /** Where the previous data was parked by the cutover (`<db>_old_<yyyymmdd>`). */
  old: string;
  /** The name the restored database goes back to. */
  restored: string;
  cutoverRun: string;
  /** Cloud engines (swap-cloud.ts): an identifier rename swap back. */
  cloud?: CloudSwapFacts['cloud'];
}

/**
 * `/db rollback <target> <cutover-run>`: reverses a cutover's rename swap with the same care
 * (connections blocked, sessions drained through the kill guard, settings put back). The restored
 * database gets its pre-cutover name and comment back, so it can be cut over again.
 */
export const rollback = defineRunbook<Args, Facts>({
  name: 'rollback',
  brief: 'Reverse a cutover',
  summary: "Reverse a `/db cutover`: the previous database gets the target's name back, the restored one its own name. Same draining and connection blocking as the cutover.",
  usage: '/db rollback <target> <cutover-run-id>',
  examples: ['/db rollback orders-prod r_m4n5p6q7 --reason "restored data is missing yesterday’s orders"'],
  grammar: { positionals: [{ name: 'cutover', required: true, help: 'the run id of the `/db cutover` to reverse' }], flags: {} },
  args,
  risk: () => 'destructive',
  plan: async ({ target, args: a }) => {
    if (isCloud(target)) {
      const f: Facts = { ...(await planCloudRollback(target, a.cutover)), cutoverRun: a.cutover };
      const k = KIND[target.engine];
      return {
        summary: `Roll back cutover ${a.cutover} on ${target.name}: ${f.old} becomes ${f.original} again`,
        steps: [`Rename ${f.original} → ${f.restored}; wait until ${f.restored} is available`, `Rename ${f.old} → ${f.original}; wait until ${f.original} is available`],
        facts: f,
        display: swapDisplay(f),
        impact: `${f.original} is unreachable while the renames apply (minutes); applications then reach the ${k} from before cutover ${a.cutover} again. Writes made since the cutover stay in ${f.restored}.`,
        etaSeconds: 600,
      };
    }
    const facts = await withAdmin(target, async (c): Promise<Facts> => {
      const original = databaseOf(target.url);
      const marks = (await databasesMarked(c, SWAP_MARK_PREFIX)).map((d) => ({ d, m: parseSwapMark(d.comment) })).filter((x) => x.m?.run === a.cutover);
      const old = marks.find((x) => x.m!.role === 'old');
      const live = marks.find((x) => x.m!.role === 'live');
      if (!old || !live) throw new DbopsError('not_found', `No cutover ${a.cutover} to reverse on ${target.name}'s server (never done, already rolled back, or the databases were renamed by hand). See \`/db run ${a.cutover}\`.`);
      if (live.d.name !== original || old.m!.was !== original) throw new DbopsError('conflict', `Cutover ${a.cutover} was not of ${target.name}'s database ${original}; nothing was changed.`);
      const back = live.m!.was;
      if (await databaseInfo(c, back)) throw new DbopsError('conflict', `A database named ${back} exists again, so the restored database cannot get its name back. Rename or drop it first; nothing was changed.`);
      const sessions = await captureSwapSessions(c, target, [original, old.d.name]);
      return {
        original,
        old: old.d.name,
        restored: back,
        cutoverRun: a.cutover,
        renames: [
          // The restored database goes back to being a finished restore (so it can be cut over again)…
          { from: original, to: back, mark: { role: 'old', was: original }, before: live.d.comment, final: live.m!.restore ? restoredMark(live.m!.restore) : null },
          // …and the previous data gets the target's name and its own comment back.
          { from: old.d.name, to: original, mark: { role: 'live', was: old.d.name }, before: old.d.comment, final: old.m!.prior ?? null },
        ],
        sessions,
      };
    });
    return {
      summary: `Roll back cutover ${a.cutover} on ${target.name}: ${facts.old} becomes ${facts.original} again`,
      steps: swapPlanSteps(facts),
      facts,
      display: swapDisplay(facts),
      detail: sessionDetail(facts),
      impact: `Every session on ${facts.original} is ended and connections are refused for the seconds the renames take; applications then reconnect to ${facts.original}, which serves the data from before the cutover again. Writes made since the cutover stay in ${facts.restored}.`,
      etaSeconds: 15,
    };
  },
  drift: swapDrift,
  steps: [swapStep<Args, Facts>('Rolling back')],
  leftState: (_s, f) => f.cloud ? cloudSwapLeftState(f as CloudSwapFacts) : `If a rename failed, the ones done were undone, so ${f.original} still serves the restored data of the cutover. Connection settings of both databases were put back.`,
  result: (outputs, f) => {
    if (f.cloud) {
      const c = outputs.swap as CloudSwapOutput & { target: string };
      return {
        headline: `${c.target}'s ${KIND[f.cloud.engine]} ${f.original} is the one from before cutover ${f.cutoverRun} again; the restored one is ${f.restored}`,
        facts: [{ label: 'Renamed', value: `${f.original} → ${f.restored}\n${f.old} → ${f.original}`, code: true }],
      };
    }
    const o = outputs.swap as SwapOutput & { target: string };
    return {
      headline: `${o.target}'s database ${f.original} serves the data from before cutover ${f.cutoverRun} again; the restored database is ${f.restored}`,
      facts: [
        { label: 'Renamed', value: `${f.original} → ${f.restored}\n${f.old} → ${f.original}`, code: true },
        { label: 'Sessions ended', value: sessionsEnded(o) },
      ],
    };
  },
});
