import type { TargetsConfig, Target } from '../config.js';
import { badInput, DbopsError } from '../errors.js';
import type { Runbook } from '../runbooks/runbook.js';
import type { Registry } from '../runbooks/registry.js';
import { parseDuration } from '../duration.js';
import { tokenize, unquote } from './tokenize.js';

export type Command =
  | { kind: 'help'; verb?: string }
  | { kind: 'targets' }
  | { kind: 'audit'; verify: boolean; target?: string; sinceSeconds: number }
  | { kind: 'runs'; target?: string }
  | { kind: 'run'; id: string }
  | { kind: 'runbook'; runbook: Runbook; target: Target; args: unknown; reason?: string; missing: string[]; raw: Record<string, unknown> };

/** Verbs that are not runbooks; listed in help with the runbooks. */
export const META_VERBS = ['help', 'targets', 'runs', 'run', 'audit'] as const;

const clip = (s: string, n = 60) => (s.length > n ? `${s.slice(0, n)}…` : s);

function resolveTarget(name: string | undefined, targets: TargetsConfig, verb: string, usage: string): Target {
  if (!name) throw badInput(`\`/db ${verb}\` needs a target. Usage: \`${usage}\`. See \`/db targets\`.`);
  const t = targets.targets.get(name);
  if (!t) {
    const known = [...targets.targets.keys()].join(', ') || '(none configured)';
    throw new DbopsError('unknown_target', `Unknown target \`${clip(name)}\`. Known targets: ${known}.`);
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
    if (!def) {
      const valid = Object.keys(spec).map((f) => `--${f}`).join(', ');
      throw badInput(`Unknown flag \`${clip(w, 40)}\` for \`/db ${verb}\`.${valid ? ` Valid flags: ${valid}, --reason.` : ' It takes no flags except --reason.'}`);
    }
    if (def.kind === 'bool') {
      if (eq > 0) throw badInput(`\`--${name}\` takes no value.`);
      flags[name] = true;
      continue;
    }
    let value = eq > 0 ? w.slice(eq + 1) : words[++i];
    if (value === undefined || value.startsWith('--')) throw badInput(`\`--${name}\` needs a value${def.kind === 'duration' ? ', like `10m`' : ''}.`);
    value = unquote(value);
    flags[name] = def.kind === 'duration' ? parseDuration(value, name) : value;
  }
  return { positionals, flags };
}

export function parseCommand(text: string, registry: Registry, targets: TargetsConfig): Command {
  const words = tokenize(text);
  const verb = (words[0] ?? 'help').toLowerCase();
  const rest = words.slice(1);
  switch (verb) {
    case 'help':
      return rest[0] ? { kind: 'help', verb: rest[0].toLowerCase() } : { kind: 'help' };
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
      return { kind: 'run', id };
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
  if (!runbook) throw new DbopsError('unknown_verb', `Unknown command \`${clip(verb, 40)}\`. Try \`/db help\` for the list: ${registry.verbs().concat(...META_VERBS).sort().join(', ')}.`);
  const { positionals, flags } = parseFlags(rest, runbook.grammar.flags, verb);
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
  const reason = typeof flags.reason === 'string' ? flags.reason.slice(0, 500) : undefined;
  if (missing.length) return { kind: 'runbook', runbook, target, args: undefined, missing, raw, ...(reason ? { reason } : {}) };
  return { kind: 'runbook', runbook, target, args: validateArgs(runbook, raw), missing, raw, ...(reason ? { reason } : {}) };
}

/** zod errors become one readable line naming the argument and what would be right. */
export function validateArgs(runbook: Runbook, raw: Record<string, unknown>): unknown {
  const r = runbook.args.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? `\`${issue.path.join('.')}\`: ` : '';
  throw badInput(`${where}${issue.message}. Usage: \`${runbook.usage}\``);
}
