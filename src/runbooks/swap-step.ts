import { adminSession, runSwap, withRun, type SwapFacts, type SwapOutput } from './db-swap.js';
import type { Step } from './runbook.js';
import { runCloudSwap, type CloudSwapFacts } from './swap-cloud.js';

/**
 * The one step of `/db cutover` and `/db rollback`: the planned renames, as an identifier rename swap
 * on a cloud engine (swap-cloud.ts) or on the target's server through an admin session (db-swap.ts).
 */
export function swapStep<A, F extends SwapFacts & { cloud?: CloudSwapFacts['cloud'] }>(title: string): Step<A, F> {
  return {
    name: 'swap',
    title,
    run: async (ctx) => {
      if (ctx.facts.cloud) return runCloudSwap(ctx as never);
      const c = await adminSession(ctx.target);
      try {
        const out: SwapOutput = await runSwap(c, { renames: withRun(ctx.facts.renames, ctx.runId), sessions: ctx.facts.sessions }, ctx);
        return { ...out, runId: ctx.runId, target: ctx.target.name };
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
}

/** The self-hosted swap as its approval card lists it, from its planned renames: block, drain, rename both, put settings back. */
export function swapPlanSteps(f: SwapFacts, blockDetail = ''): string[] {
  return [
    `Block new connections to ${f.renames.map((r) => r.from).join(' and ')}${blockDetail}`,
    `End the ${f.sessions.length} approved session(s) through the kill guard (and the bot's own idle sessions)`,
    `Rename ${f.renames.map((r) => `${r.from} → ${r.to}`).join(', then ')}`,
    'Put both databases’ connection settings back (also on failure; a failed rename is undone)',
  ];
}

/** How many approved sessions the swap ended, and how many of the bot's own idle ones. */
export const sessionsEnded = (o: SwapOutput): string => `${o.signals.filter((s) => s.outcome === 'terminated').length} approved, ${o.botSessionsEnded} of the bot's own idle ones`;
