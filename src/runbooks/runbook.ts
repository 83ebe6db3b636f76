import type pg from 'pg';
import type { z } from 'zod';
import type { Target } from '../config.js';
import type { Logger } from '../log.js';

export type Risk = 'read' | 'change' | 'destructive';

/** A labelled fact shown on cards and in results; `code` values render as code, never as mrkdwn. */
export interface Fact {
  label: string;
  value: string;
  code?: boolean;
}

/**
 * What a runbook will do, resolved *now*. `facts` is exactly what the run acts on (JSON); its hash
 * is what an approval binds to, so anything the steps rely on must be in it.
 */
export interface Plan<F = unknown> {
  summary: string;
  steps: string[];
  facts: F;
  /** Shown on approval cards and announcements. */
  display: Fact[];
  /** Longer lists (sessions to kill…), rendered as a code block, truncated to Block Kit limits. */
  detail?: string;
  impact?: string;
  etaSeconds?: number;
}

export interface Progress {
  /** One line: phase and numbers. */
  text: string;
  /** 0..100 when known: rendered as a bar. */
  percent?: number;
}

export interface GrammarSpec {
  /** Positionals after the target, in order. `rest` collects all remaining positionals. */
  positionals: ReadonlyArray<{ name: string; required: boolean; rest?: boolean; help: string }>;
  flags: Readonly<Record<string, { kind: 'bool' | 'string' | 'duration'; help: string }>>;
}

export interface PlanContext<A> {
  target: Target;
  args: A;
  requester: string;
  /**
   * Set when an existing run is planned again (its approval, a resume): what that run itself created
   * (a restored database or instance carrying its mark) is then its own, not "a name already taken".
   */
  runId?: string;
  /** A bounded session on the target (application_name=dbops, statement/lock timeouts), always closed. */
  session: <T>(fn: (c: pg.Client) => Promise<T>) => Promise<T>;
}

export interface StepContext<A, F> extends PlanContext<A> {
  runId: string;
  facts: F;
  /** Data a previous attempt of this step saved; lets a resumed step continue instead of restart. */
  checkpoint: Readonly<Record<string, unknown>>;
  saveCheckpoint: (data: Record<string, unknown>) => Promise<void>;
  progress: (p: Progress) => void;
  /** Aborted on shutdown: a step should stop at a safe point (its state is checkpointed). */
  signal: AbortSignal;
  log: Logger;
  /** Outputs of the steps already done in this run, by step name. */
  outputs: Readonly<Record<string, unknown>>;
  /** Opens a bounded session (not closed automatically) for long steps that need two sessions. */
  openSession: (limits?: { statementTimeoutMs?: number; lockTimeoutMs?: number }) => Promise<pg.Client>;
  /**
   * "Not yet, look again in `afterMs`": ends this attempt of the step without holding a worker (the
   * run is parked and its job delayed). Save what the next look needs with saveCheckpoint first;
   * the step runs again with that checkpoint. Throws, so `return ctx.pollAgain(…)` reads naturally.
   */
  pollAgain: (afterMs: number, progress?: Progress) => never;
  /** How long this step has been waiting through pollAgain (0 on its first look). */
  waitedMs: number;
}

export interface Step<A, F> {
  name: string;
  /** What progress messages call this step ("Vacuuming"); defaults to the name. */
  title?: string;
  /** A step that polls (pollAgain) fails once it has waited this long; default 2 h. */
  deadlineMs?: number;
  /** Returns JSON output recorded with the step. Must be idempotent: it may run again after a crash. */
  run: (ctx: StepContext<A, F>) => Promise<Record<string, unknown> | void>;
}

export interface RunResult {
  /** One line for the channel broadcast. */
  headline: string;
  facts: Fact[];
  /**
   * Set when the run finished but did not achieve what it was for (a VACUUM whose dead tuples were
   * pinned): shown with a warning icon instead of ✅, with this line saying why and what to do.
   */
  warning?: string;
}

export interface Runbook<A = any, F = any> {
  name: string;
  /** A few words for the `/db help` overview, next to an example. */
  brief: string;
  /** What it does, in full: `/db help <verb>`. */
  summary: string;
  usage: string;
  examples: string[];
  grammar: GrammarSpec;
  /** Validates the merged {positional names, flags} object; errors become user messages. */
  args: z.ZodType<A>;
  /** `target` is given at request time (a restore is destructive in production only); help calls it without. */
  risk: (args: A, target?: Target) => Risk;
  plan: (ctx: PlanContext<A>) => Promise<Plan<F>>;
  steps: ReadonlyArray<Step<A, F>>;
  /** Summarises a finished run from its step outputs. */
  result: (outputs: Record<string, unknown>, facts: F, args: A) => RunResult;
  /** Read runbooks render their answer as rich text (mrkdwn sections); others use `result`. */
  report?: (outputs: Record<string, unknown>, facts: F, args: A, target: Target) => ReportSection[];
  /** What a failure at `step` leaves behind, in the words an on-call engineer needs (`runId`: to name what the run created and the commands that go on from here). */
  leftState?: (step: string, facts: F, runId: string) => string;
  /** Name of a modal to open when required arguments are missing (see handlers/modals.ts). */
  modal?: string;
  /**
   * How this runbook's facts may drift between request and approval. Without it they may not drift
   * at all: the re-planned facts must hash the same as the approved ones. With it, `current` is the
   * re-plan now (null when planning failed now) and the verdict says whether the approval still
   * stands, with a note for the card. Execution still acts only on the approved facts.
   */
  drift?: (approved: F, current: F | null) => Drift;
  /**
   * `/db run <id> abort` of a failed run: removes what the run created (never the source, never a
   * pre-restore snapshot) and says what it removed and what it kept. With `dryRun` it only lists
   * (the confirmation shows that list). Runbooks without it cannot be aborted.
   */
  abort?: (facts: F, outputs: Readonly<Record<string, unknown>>, ctx: AbortContext) => Promise<AbortReport>;
  /** `destructive`: the abort also needs an approver other than the requester to confirm it. Default `change`. */
  abortRisk?: Exclude<Risk, 'read'>;
  /** The final result (and a failure) is broadcast to the thread's channel even when the run is not announced. */
  broadcastResult?: boolean;
}

export interface AbortContext {
  runId: string;
  target: Target;
  /** List what would be removed and kept; remove nothing. */
  dryRun: boolean;
  log: Logger;
}

/** What an abort removed (or, in a dry run, would remove) and what it kept on purpose, one line each. */
export interface AbortReport {
  removed: string[];
  kept: string[];
}

/** Whether an approval still stands after the facts moved, and what to tell people about it. */
export type Drift = { ok: true; note?: string } | { ok: false; note: string };

/** A block of a read report: title + mrkdwn body, or a code block of preformatted text. */
export type ReportSection = { title?: string; mrkdwn?: string; code?: string; fields?: Fact[] };

export function defineRunbook<A, F>(rb: Runbook<A, F>): Runbook<A, F> {
  return rb;
}
