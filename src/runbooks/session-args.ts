import { z } from 'zod';

export const SELECTORS = ['idle', 'idle-in-transaction', 'blockers', 'all'] as const;
export type Selector = (typeof SELECTORS)[number];

/** Linux pids fit in 22 bits; anything beyond int4 can't be a backend at all. */
const MAX_PID = 2_147_483_647;

export const pidText = z.string().superRefine((v, ctx) => {
  if (!/^\d{1,10}$/.test(v) || Number(v) < 1 || Number(v) > MAX_PID) ctx.addIssue({ code: 'custom', message: `\`${v.slice(0, 30)}\` is not a pid: pids are positive whole numbers, like 12345` });
});

/** `what`: either one selector or one or more pids, never a mix. */
export const sessionTarget = (allowSelectors: boolean) =>
  z
    .array(z.string())
    .min(1, allowSelectors ? `name pids or one of ${SELECTORS.join(', ')}` : 'name one or more pids')
    .max(500, 'at most 500 pids at once')
    .transform((words, ctx): { selector: Selector } | { pids: number[] } => {
      const sel = words.length === 1 ? SELECTORS.find((s) => s === words[0]!.toLowerCase()) : undefined;
      if (sel && allowSelectors) return { selector: sel };
      const pids: number[] = [];
      for (const w of words) {
        const r = pidText.safeParse(w);
        if (!r.success) {
          ctx.addIssue({ code: 'custom', message: `${r.error.issues[0]!.message}${allowSelectors ? ` (or use one selector: ${SELECTORS.join(', ')})` : ''}` });
          return z.NEVER;
        }
        pids.push(Number(w));
      }
      return { pids: [...new Set(pids)].sort((a, b) => a - b) };
    });

export const stateFlag = z.enum(['active', 'idle', 'idle-in-transaction'], { message: 'state is one of active, idle, idle-in-transaction' });
export const nameFlag = z.string().min(1).max(128, 'that name is too long');
