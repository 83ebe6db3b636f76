/**
 * The two steps every emergency engine operation shares: start it once (its checkpoint saved in the
 * run), then look at it with pollAgain until the engine says done, holding no worker meanwhile.
 */
import type { OperationCheckpoint, OperationPoll } from '../providers/emergency.js';
import { ProviderError, type Provider } from '../providers/index.js';
import { pollIntervalMs } from './poll-interval.js';
import { providerOf } from './providers.js';
import type { Step, StepContext } from './runbook.js';

export interface StartOutput {
  startedAt: string;
  /** An earlier attempt of this step had already started the operation. */
  resumed: boolean;
}

export interface WaitOutput {
  durationMs: number;
  poll: Pick<OperationPoll, 'progress' | 'topology'>;
}

export function savedOperation(cp: Readonly<Record<string, unknown>>): OperationCheckpoint | undefined {
  const op = cp.operation as OperationCheckpoint | undefined;
  return op && typeof op === 'object' && typeof op.kind === 'string' ? op : undefined;
}

function need<K extends keyof Provider>(p: Provider, k: K): NonNullable<Provider[K]> {
  const f = p[k];
  if (typeof f !== 'function') throw new ProviderError(p.engine, 'unsupported', `This operation is not on ${p.engine}.`);
  return (f as (...a: unknown[]) => unknown).bind(p) as NonNullable<Provider[K]>;
}

/**
 * `start` sends the request. `alreadyStarted` is asked when an earlier attempt saved that it was
 * about to send it but not what came back (a crash in between): it returns the checkpoint to
 * re-attach to when the engine shows the operation happened, or undefined to send it again.
 */
export function startStep<A, F>(o: {
  title: string;
  start: (p: Provider, ctx: StepContext<A, F>) => Promise<OperationCheckpoint>;
  alreadyStarted?: (p: Provider, ctx: StepContext<A, F>) => Promise<OperationCheckpoint | undefined>;
}): Step<A, F> {
  return {
    name: 'start',
    title: o.title,
    run: async (ctx) => {
      const startedAt = typeof ctx.checkpoint.startedAt === 'string' ? ctx.checkpoint.startedAt : new Date().toISOString();
      if (savedOperation(ctx.checkpoint)) return { startedAt, resumed: true } satisfies StartOutput;
      const p = providerOf(ctx.target);
      if (typeof ctx.checkpoint.startedAt === 'string' && o.alreadyStarted) {
        const op = await o.alreadyStarted(p, ctx);
        if (op) {
          await ctx.saveCheckpoint({ startedAt, operation: op });
          return { startedAt, resumed: true } satisfies StartOutput;
        }
      }
      await ctx.saveCheckpoint({ startedAt });
      const op = await o.start(p, ctx);
      await ctx.saveCheckpoint({ startedAt, operation: op });
      ctx.log.info({ kind: op.kind }, 'engine operation started');
      return { startedAt, resumed: false } satisfies StartOutput;
    },
  };
}

export function waitStep<A, F>(o: { title: string; label: (poll: OperationPoll) => string; fallback: (ctx: StepContext<A, F>) => OperationCheckpoint }): Step<A, F> {
  return {
    name: 'wait',
    title: o.title,
    run: async (ctx) => {
      const start = ctx.outputs.start as StartOutput;
      const cp = savedOperation(ctx.checkpoint) ?? o.fallback(ctx);
      const p = providerOf(ctx.target);
      // One look; not done parks the run until the next one.
      const r = await need(p, 'pollOperation')(cp, { signal: ctx.signal });
      await ctx.saveCheckpoint({ operation: r.checkpoint });
      if (!r.done) return ctx.pollAgain(pollIntervalMs(), { text: o.label(r) });
      return { durationMs: Math.max(0, Date.now() - Date.parse(start.startedAt)), poll: { progress: r.progress, ...(r.topology ? { topology: r.topology } : {}) } } satisfies WaitOutput;
    },
  };
}

export { need as providerMethod };
