import type { TargetsConfig, Target } from '../config.js';
import { badInput, DbopsError } from '../errors.js';
import type { Runbook } from '../runbooks/runbook.js';
import type { Registry } from '../runbooks/registry.js';
import { parseDuration } from '../duration.js';
import { didYouMean } from './suggest.js';
import { tokenize, unquote } from './tokenize.js';

export type Command =
  | { kind: 'help'; verb?: string }
  | { kind: 'targets' }
  | { kind: 'audit'; verify: boolean; target?: string; sinceSeconds: number }
  | { kind: 'runs'; target?: string }
  /** `run <id>` shows it; `resume` continues a failed run at its failed step, `abort` removes what it created. */
  | { kind: 'run'; id: string; action?: 'resume' | 'abort' }
  /** `backup drill <target> --every D` (schedule) or `--off` (remove). */
  | { kind: 'drill'; target: Target; off: boolean; everySeconds?: number }
  | { kind: 'drills' }
  | { kind: 'runbook'; runbook: Runbook; target: Target; args: unknown; reason?: string; missing: string[]; raw: Record<string, unknown> }
  /** A runbook verb typed without its target: the door opens the verb's form with a target picker. */
  | { kind: 'form'; runbook: Runbook; reason?: string; raw: Record<string, unknown> };

/** Verbs that are not runbooks; listed in help with the runbooks. */
export const META_VERBS = ['help', 'targets', 'runs', 'run', 'audit'] as const;

// Every verb, and their sorted list as the unknown-verb answer shows it: built once per registry (a mistyped verb is answered in the ack).
const verbLists = new WeakMap<Registry, { verbs: readonly string[]; list: string }>();
function knownVerbs(registry: Registry): { verbs: readonly string[]; list: string } {
  let v = verbLists.get(registry);
  if (!v) {
    const verbs = [...registry.verbs(), ...META_VERBS];
    verbLists.set(registry, (v = { verbs, list: [...verbs].sort().join(', ') }));
  }
  return v;
}

const clip = (s: string, n = 60) => (s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * Bounds every door applies to user-typed values. The slash command is bounded by its 2000-character
 * text; a modal's fields are not (a forged submission can carry megabytes), so each value is bounded here.
 */
export const INPUT_LIMITS = { reason: 500, word: 256, field: 6000 } as const;

type FlagDef = Runbook['grammar']['flags'][string];

/** A user-input error that names the field it is about, so a modal can show it next to that input. */
export class FieldError extends DbopsError {
  constructor(
    readonly field: string,
    userMessage: string,
  ) {
    super('bad_input', userMessage);
  }
}

/** One flag value as every door reads it: durations parsed, strings bounded. */
function flagValue(name: string, def: FlagDef, value: string): unknown {
  if (def.kind === 'duration') return parseDuration(value, name);
  if (value.length > INPUT_LIMITS.word) throw new FieldError(name, `\`--${name}\` is too long: at most ${INPUT_LIMITS.word} characters.`);
  return value;
}

function unknownFlag(flag: string, spec: Runbook['grammar']['flags'], verb: string): DbopsError {
  const valid = Object.keys(spec).map((f) => `--${f}`).join(', ');
  const hint = didYouMean(flag.replace(/^--/, '').split('=')[0]!, [...Object.keys(spec), 'reason'], '--');
  return badInput(`Unknown flag \`${clip(flag, 40)}\` for \`/db ${verb}\`.${hint}${valid ? ` Valid flags: ${valid}, --reason.` : ' It takes no flags except --reason.'}`);
}

function resolveTarget(name: string | undefined, targets: TargetsConfig, verb: string, usage: string): Target {
  if (!name) throw badInput(`\`/db ${verb}\` needs a target. Usage: \`${usage}\`. See \`/db targets\`.`);
  const t = targets.targets.get(name);
  if (!t) {
    const known = [...targets.targets.keys()].join(', ') || '(none configured)';
    throw new DbopsError('unknown_target', `Unknown target \`${clip(name)}\`.${didYouMean(name, targets.targets.keys())} Known targets: ${known}.`);
  }
  return t;
}

function parseFlags(words: string[], spec: Runbook['grammar']['flags'], verb: string): { positionals: string[]; flags: Record<string, unknown> } {
  const all: Runbook['grammar']['flags'] = { ...spec, reason: { kind: 'string', help: '' } };
  const positionals: string[] = [];
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith('--')) {
      positionals.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    const name = (eq > 0 ? w.slice(2, eq) : w.slice(2)).toLowerCase();
    const def = Object.hasOwn(all, name) ? all[name] : undefined;
    if (!def) throw unknownFlag(w, spec, verb);
    if (def.kind === 'bool') {
      if (eq > 0) throw badInput(`\`--${name}\` takes no value.`);
      flags[name] = true;
      continue;
    }
    let value = eq > 0 ? w.slice(eq + 1) : words[++i];
    if (value === undefined || value.startsWith('--')) throw badInput(`\`--${name}\` needs a value${def.kind === 'duration' ? ', like `10m`' : ''}.`);
    value = unquote(value);
    // --reason is bounded (truncated) where the command is assembled, like the modal's reason.
    flags[name] = name === 'reason' ? value : flagValue(name, def, value);
  }
  return { positionals, flags };
}

export function parseCommand(text: string, registry: Registry, targets: TargetsConfig): Command {
  const words = tokenize(text);
  const first = (words[0] ?? 'help').toLowerCase();
  // Two-word verbs: `backup verify` is a runbook; `backup drill` / `backup drills` manage its schedule.
  const sub = first === 'backup' ? words[1]?.toLowerCase() : undefined;
  if (first === 'backup' && sub !== 'verify') return parseBackup(sub, words.slice(2), targets);
  const verb = sub ? `${first} ${sub}` : first;
  const rest = words.slice(sub ? 2 : 1);
  switch (verb) {
    case 'help':
      return rest[0] ? { kind: 'help', verb: rest.slice(0, rest[0].toLowerCase() === 'backup' && rest[1] ? 2 : 1).join(' ').toLowerCase() } : { kind: 'help' };
    case 'targets':
      return { kind: 'targets' };
    case 'runs': {
      const t = rest[0];
      if (t && !targets.targets.has(t)) resolveTarget(t, targets, 'runs', '/db runs [target]');
      return t ? { kind: 'runs', target: t } : { kind: 'runs' };
    }
    case 'run': {
      const id = rest[0];
      if (!id || !/^r_[a-z0-9]{6,40}$/.test(id)) throw badInput('`/db run` needs a run id like `r_k3x9q2a8`. See `/db runs` for recent ones.');
      const action = rest[1]?.toLowerCase();
      if (rest.length > 2 || (action !== undefined && action !== 'resume' && action !== 'abort')) {
        throw badInput(`\`/db run ${id}\` takes \`resume\` or \`abort\` (or nothing, to show the run), not \`${clip(rest.slice(1).join(' '), 40)}\`.`);
      }
      return action ? { kind: 'run', id, action } : { kind: 'run', id };
    }
    case 'audit': {
      if (rest[0] === 'verify') return { kind: 'audit', verify: true, sinceSeconds: 0 };
      const { positionals, flags } = parseFlags(rest, { since: { kind: 'duration', help: '' } }, 'audit');
      const t = positionals[0];
      if (t) resolveTarget(t, targets, 'audit', '/db audit [target] [--since 24h]');
      return { kind: 'audit', verify: false, ...(t ? { target: t } : {}), sinceSeconds: (flags.since as number | undefined) ?? 86400 };
    }
  }
  const runbook = registry.get(verb);
  if (!runbook) {
    const known = knownVerbs(registry);
    throw new DbopsError('unknown_verb', `Unknown command \`${clip(verb, 40)}\`.${didYouMean(verb, known.verbs)} Try \`/db help\` for the list: ${known.list}.`);
  }
  const { positionals, flags } = parseFlags(rest, runbook.grammar.flags, verb);
  if (positionals[0] === undefined && targets.targets.size) return formFor(runbook, flags);
  const target = resolveTarget(positionals[0], targets, verb, runbook.usage);
  const raw: Record<string, unknown> = {};
  const missing: string[] = [];
  let i = 1;
  for (const p of runbook.grammar.positionals) {
    if (p.rest) {
      const vals = positionals.slice(i);
      i = positionals.length;
      if (vals.length) raw[p.name] = vals;
      else if (p.required) missing.push(p.name);
      continue;
    }
    const v = positionals[i++];
    if (v !== undefined) raw[p.name] = v;
    else if (p.required) missing.push(p.name);
  }
  if (i < positionals.length) throw badInput(`Too many arguments for \`/db ${verb}\`: \`${clip(positionals.slice(i).join(' '), 60)}\`. Usage: \`${runbook.usage}\`.`);
  for (const [k, v] of Object.entries(flags)) if (k !== 'reason') raw[k] = v;
  const reason = typeof flags.reason === 'string' ? flags.reason.slice(0, INPUT_LIMITS.reason) : undefined;
  if (!missing.length && runbook.modal && positionals.length === 1) missing.push(...missingForModal(runbook, raw));
  if (missing.length) return { kind: 'runbook', runbook, target, args: undefined, missing, raw, ...(reason ? { reason } : {}) };
  return { kind: 'runbook', runbook, target, args: validateArgs(runbook, raw), missing, raw, ...(reason ? { reason } : {}) };
}

/**
 * A runbook with its own modal, typed with only its target, whose required input is a flag (restore's
 * source: `--snapshot` or `--to-time`): what the schema says is missing opens the modal instead of an
 * error. A value that was typed and is wrong stays an error, said at once.
 */
function missingForModal(runbook: Runbook, raw: Record<string, unknown>): string[] {
  const r = runbook.args.safeParse(raw);
  if (r.success) return [];
  const absent = r.error.issues.map((i) => i.path[0]).filter((k) => k === undefined || !Object.hasOwn(raw, String(k)));
  return absent.length === r.error.issues.length ? [String(absent[0] ?? 'source')] : [];
}

/** The flags typed so far prefill the form; the form goes through the same grammar when submitted. */
function formFor(runbook: Runbook, flags: Record<string, unknown>): Command {
  const raw = Object.fromEntries(Object.entries(flags).filter(([k]) => k !== 'reason'));
  const reason = typeof flags.reason === 'string' ? flags.reason.slice(0, INPUT_LIMITS.reason) : undefined;
  return { kind: 'form', runbook, raw, ...(reason ? { reason } : {}) };
}

const DRILL_USAGE = '/db backup drill <target> --every 7d | --off';
const DRILL_FLAGS: Runbook['grammar']['flags'] = {
  every: { kind: 'duration', help: 'how often to verify the newest dump, like 7d' },
  off: { kind: 'bool', help: "remove the target's drill" },
};

function parseBackup(sub: string | undefined, words: string[], targets: TargetsConfig): Command {
  if (sub === 'drills') {
    if (words.length) throw badInput('`/db backup drills` takes no arguments: it lists every drill.');
    return { kind: 'drills' };
  }
  if (sub !== 'drill') {
    throw badInput('`/db backup` needs `verify`, `drill` or `drills`: `/db backup verify <target> [snapshot]`, `/db backup drill <target> --every 7d` (or `--off`), `/db backup drills`.');
  }
  const { positionals, flags } = parseFlags(words, DRILL_FLAGS, 'backup drill');
  const target = resolveTarget(positionals[0], targets, 'backup drill', DRILL_USAGE);
  if (positionals.length > 1) throw badInput(`Too many arguments for \`/db backup drill\`: \`${clip(positionals.slice(1).join(' '), 60)}\`. Usage: \`${DRILL_USAGE}\`.`);
  const every = flags.every as number | undefined;
  const off = flags.off === true;
  if (off === (every !== undefined)) throw badInput(`\`/db backup drill\` takes \`--every 7d\` to schedule a drill or \`--off\` to remove it (one of the two). Usage: \`${DRILL_USAGE}\`.`);
  return every === undefined ? { kind: 'drill', target, off } : { kind: 'drill', target, off, everySeconds: every };
}

/** zod errors become one readable line naming the argument and what would be right. */
export function validateArgs(runbook: Runbook, raw: Record<string, unknown>): unknown {
  const r = runbook.args.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? `\`${issue.path.join('.')}\`: ` : '';
  throw badInput(`${where}${issue.message}. Usage: \`${runbook.usage}\``);
}

/** What a modal submitted, by field, as typed: the same grammar as the slash command reads it. */
export interface ModalInput {
  target?: string;
  /** Positional name → the field's text (a rest positional takes several words). */
  positionals: Record<string, string>;
  /** Flag name → the field's text, or true for a ticked bool flag. */
  flags: Record<string, string | true>;
  reason?: string;
}

const splitWords = (text: string) => text.trim().split(/[\s,]+/).filter(Boolean);

/**
 * A modal's fields through the runbook's grammar: only declared positionals and flags, each value
 * bounded and parsed as `/db` parses it (durations, one word per non-rest positional). Returns the raw
 * args (before the zod schema) and which required positionals are still empty. Throws FieldError.
 */
export function bindModalInput(runbook: Runbook, input: ModalInput): { raw: Record<string, unknown>; missing: string[] } {
  const verb = runbook.name;
  const raw: Record<string, unknown> = {};
  const missing: string[] = [];
  const declared = new Set(runbook.grammar.positionals.map((p) => p.name));
  for (const name of Object.keys(input.positionals)) {
    if (!declared.has(name)) throw new FieldError(name, `\`/db ${verb}\` takes no argument \`${clip(name, 40)}\`. Usage: \`${runbook.usage}\`.`);
  }
  for (const p of runbook.grammar.positionals) {
    const text = Object.hasOwn(input.positionals, p.name) ? input.positionals[p.name]! : '';
    if (text.length > INPUT_LIMITS.field) throw new FieldError(p.name, `\`${p.name}\` is too long: at most ${INPUT_LIMITS.field} characters.`);
    let words: string[];
    try {
      words = p.rest ? splitWords(text) : tokenize(text);
    } catch (err) {
      throw new FieldError(p.name, (err as DbopsError).userMessage);
    }
    if (words.some((w) => w.length > INPUT_LIMITS.word)) throw new FieldError(p.name, `\`${p.name}\`: a value is too long (at most ${INPUT_LIMITS.word} characters).`);
    if (!words.length) {
      if (p.required) missing.push(p.name);
      continue;
    }
    if (!p.rest && words.length > 1) throw new FieldError(p.name, `\`${p.name}\` takes one value, got \`${clip(words.join(' '), 60)}\`. Quote names with spaces, e.g. \`"Odd Name"\`.`);
    raw[p.name] = p.rest ? words : words[0];
  }
  for (const [name, value] of Object.entries(input.flags)) {
    const def = Object.hasOwn(runbook.grammar.flags, name) ? runbook.grammar.flags[name] : undefined;
    if (!def) throw new FieldError(name, unknownFlag(`--${name}`, runbook.grammar.flags, verb).userMessage);
    if (def.kind === 'bool') {
      if (value !== true) throw new FieldError(name, `\`--${name}\` takes no value.`);
      raw[name] = true;
      continue;
    }
    if (value === true) throw new FieldError(name, `\`--${name}\` needs a value${def.kind === 'duration' ? ', like `10m`' : ''}.`);
    const v = value.trim();
    if (v === '') continue;
    try {
      raw[name] = flagValue(name, def, v);
    } catch (err) {
      throw err instanceof FieldError ? err : new FieldError(name, (err as DbopsError).userMessage);
    }
  }
  return { raw, missing };
}

/**
 * A whole modal submission, as strict as `/db`: target resolved from the targets file, grammar as
 * above, reason bounded (refused, not cut: the modal's own input stops at the same length), zod schema.
 */
export function parseModalInput(runbook: Runbook, targets: TargetsConfig, input: ModalInput): { target: Target; args: unknown; raw: Record<string, unknown>; reason?: string } {
  let target: Target;
  try {
    target = resolveTarget(input.target, targets, runbook.name, runbook.usage);
  } catch (err) {
    throw new FieldError('target', (err as DbopsError).userMessage);
  }
  const reason = input.reason?.trim();
  if (reason && reason.length > INPUT_LIMITS.reason) throw new FieldError('reason', `The reason is ${reason.length} characters long; the limit is ${INPUT_LIMITS.reason}.`);
  const { raw, missing } = bindModalInput(runbook, input);
  if (missing.length) throw new FieldError(missing[0]!, `\`${missing[0]}\` is required. Usage: \`${runbook.usage}\`.`);
  return { target, args: validateArgs(runbook, raw), raw, ...(reason ? { reason } : {}) };
}
