import { describePolicy } from '../approvals/policy.js';
import type { Target, TargetsConfig } from '../config.js';
import type { Registry } from '../runbooks/registry.js';
import type { Runbook } from '../runbooks/runbook.js';
import { code, codeBlock, context, esc, fitMessage, header, section } from '../slack/blocks.js';
import { errorMessage, type Message } from '../slack/messages.js';
import { enginesLine, engineVerbs, matrixTable, targetVerbsLine } from './capability-matrix.js';

/**
 * Examples are written for a target called `orders-prod` (or with a `<target>` token); they are shown
 * with the workspace's first configured target instead, so a copied example runs where the reader is.
 */
export const EXAMPLE_TARGET_PLACEHOLDERS = ['orders-prod', '<target>'] as const;

/**
 * Examples are written with a placeholder target (`orders-prod` or `<target>`); shown with the
 * workspace's first target instead, everywhere it appears (two-word verbs, ids derived from it,
 * `--to orders-prod-2`), so a copied example works where the user is.
 */
export function exampleFor(example: string, target: string | undefined): string {
  if (!target) return example;
  return EXAMPLE_TARGET_PLACEHOLDERS.reduce((text, p) => text.split(p).join(target), example);
}

/** The target examples name: the first one in the targets file (none: the examples keep their placeholder). */
export function exampleTarget(targets: TargetsConfig | undefined): string | undefined {
  return targets ? targets.targets.keys().next().value : undefined;
}

const META_HELP: Array<{ verb: string; usage: string; brief: string; summary: string; example: string }> = [
  { verb: 'help', usage: '/db help [verb]', brief: 'This list, or one verb in detail', summary: 'This list, or one verb in detail.', example: '/db help vacuum' },
  { verb: 'targets', usage: '/db targets', brief: 'The databases dbops may touch', summary: 'The databases dbops may touch: name, engine, environment.', example: '/db targets' },
  { verb: 'runs', usage: '/db runs [target]', brief: 'Recent and active runs', summary: 'Recent and active runs with their state.', example: '/db runs <target>' },
  { verb: 'run', usage: '/db run <id>', brief: 'One run: steps, approvals, thread', summary: 'One run: its steps, approvals and thread.', example: '/db run r_1a2b3c4d5e6f' },
  { verb: 'audit', usage: '/db audit [target] [--since 24h] | /db audit verify', brief: 'The audit log, or `verify` its hash chain', summary: 'The audit log, or a check of its hash chain.', example: '/db audit <target> --since 2h' },
];

/** The overview's groups, safest first; a verb whose risk depends on its flags has its own. */
const RISK_GROUPS: ReadonlyArray<{ risk: string; title: string }> = [
  { risk: 'read', title: '*Read* — answered at once' },
  { risk: 'change', title: '*Change* — queued' },
  { risk: 'change / destructive', title: '*Change, or destructive with a flag*' },
  { risk: 'destructive', title: '*Destructive* — a second person approves' },
];

function riskOf(rb: Runbook): string {
  const flags = Object.keys(rb.grammar.flags);
  // Risk depends on args for some verbs (vacuum --full): show the range honestly.
  const risks = new Set<string>();
  try {
    risks.add(rb.risk({} as never));
  } catch {
    /* needs args */
  }
  for (const f of flags) {
    try {
      risks.add(rb.risk({ [f]: true } as never));
    } catch {
      /* ignore */
    }
  }
  return [...risks].join(' / ') || 'varies';
}

// `/db help` is answered in the ack and is the same for a given registry and example target, so it is
// rendered once per pair: rendering it (~0.4 ms) on every request showed in ack latency under load.
const helpCache = new WeakMap<Registry, Map<string, Message>>();

export function helpMessage(registry: Registry, targets?: TargetsConfig): Message {
  const t = exampleTarget(targets);
  let byTarget = helpCache.get(registry);
  if (!byTarget) helpCache.set(registry, (byTarget = new Map()));
  const key = t ?? '';
  const hit = byTarget.get(key);
  if (hit) return hit;
  const m = renderHelp(registry, t);
  // A reload may rename targets: keep a few example names, not every one ever seen.
  if (byTarget.size > 16) byTarget.clear();
  byTarget.set(key, m);
  return m;
}

function renderHelp(registry: Registry, t: ReturnType<typeof exampleTarget>): Message {
  // An overview to scan at 3 a.m.: one line per verb (a copyable example and a few words), grouped by
  // risk; usage, flags and the full description are one `/db help <verb>` away.
  const line = (example: string, brief: string) => `• ${code(exampleFor(example, t), 200)} — ${esc(brief)}`;
  const byRisk = new Map<string, string[]>();
  for (const rb of registry.all()) {
    const risk = riskOf(rb);
    byRisk.set(risk, [...(byRisk.get(risk) ?? []), line(rb.examples[0] ?? rb.usage, rb.brief)]);
  }
  const known = new Set(RISK_GROUPS.map((g) => g.risk));
  const groups = [...RISK_GROUPS, ...[...byRisk.keys()].filter((r) => !known.has(r)).map((risk) => ({ risk, title: `*${esc(risk)}*` }))];
  const engines = engineVerbs(registry.verbs());
  return {
    text: 'dbops commands',
    blocks: fitMessage([
      header('dbops: /db commands'),
      ...groups.flatMap((g) => (byRisk.has(g.risk) ? [section(`${g.title}\n${byRisk.get(g.risk)!.join('\n')}`)] : [])),
      section(`*Everything else* — read\n${META_HELP.map((m) => line(m.example, m.brief)).join('\n')}`),
      // Engine-backed verbs depend on the target's engine; every other verb runs SQL and works everywhere.
      ...(engines.length ? [section(`*What each engine supports*\n${codeBlock(matrixTable(engines))}\nEvery other verb works on all engines. \`/db targets\` shows each target's engine.`)] : []),
      context('*read* runs at once · *change* is queued · *destructive* needs a second person’s approval. `/db help <verb>`: usage, flags and more examples. Add `--reason "…"` to any request.'),
    ]),
  };
}

export function verbHelpMessage(registry: Registry, verb: string, targets?: TargetsConfig): Message {
  const t = exampleTarget(targets);
  const rb = registry.get(verb);
  if (!rb) {
    const m = META_HELP.find((x) => x.verb === verb);
    if (m) return { text: m.usage, blocks: [section(`*${code(m.usage)}*\n${esc(m.summary)}\nExample: ${code(exampleFor(m.example, t))}`)] };
    return errorMessage(`No help for \`${esc(verb.slice(0, 40))}\`: it is not a dbops command. \`/db help\` lists them all.`);
  }
  const args = rb.grammar.positionals.map((p) => `• \`${p.name}\`${p.required ? '' : ' (optional)'} — ${esc(p.help)}`);
  const flags = Object.entries(rb.grammar.flags).map(([f, d]) => `• \`--${f}${d.kind === 'bool' ? '' : d.kind === 'duration' ? ' 10m' : ' VALUE'}\` — ${esc(d.help)}`);
  const blocks = [
    header(`/db ${rb.name}`),
    section(`${esc(rb.summary)}\n*Usage:* ${code(rb.usage, 200)}\n*Risk:* ${riskOf(rb)}${enginesLine(rb.name) ? `\n*Engines:* ${esc(enginesLine(rb.name)!)}` : ''}`),
    section(`*Arguments*\n• \`target\` — a name from \`/db targets\`\n${args.join('\n')}`),
  ];
  if (flags.length) blocks.push(section(`*Flags*\n${flags.join('\n')}\n• \`--reason "…"\` — why; shown on cards and in the audit log`));
  blocks.push(section(`*Examples*\n${rb.examples.map((e) => code(exampleFor(e, t), 200)).join('\n')}`));
  return { text: `/db ${rb.name}`, blocks: fitMessage(blocks) };
}

// `/db targets` is answered in the ack too; it depends only on the targets, and a reload replaces
// every Target object, so the last answer is reused while the same objects are configured.
let lastTargets: { list: readonly Target[]; message: Message } | undefined;

export function targetsMessage(targets: TargetsConfig): Message {
  const list = [...targets.targets.values()];
  if (lastTargets && lastTargets.list.length === list.length && lastTargets.list.every((t, i) => t === list[i])) return lastTargets.message;
  const message = renderTargets(list);
  lastTargets = { list, message };
  return message;
}

function renderTargets(list: readonly Target[]): Message {
  // The effective policy per target, so nobody has to work out the merge of file and target rules.
  const rows = list.map((t) => `• ${code(t.name, 60)} — ${esc(t.engine)}, *${esc(t.environment)}*\n      ${esc(describePolicy(t.effective))}${targetVerbsLine(t) ? `\n      ${esc(targetVerbsLine(t))}` : ''}`);
  return {
    text: 'dbops targets',
    blocks: fitMessage([
      header('Targets'),
      ...chunk(rows, 10).map((part) => section(part.join('\n'))),
      ...(rows.length ? [] : [section('_No targets configured._')]),
      context('Policy per target: approvals needed per risk (never the requester), whether runs are announced in the incident channel, and when approval requests expire. Connection details are never shown here.'),
    ]),
  };
}

function chunk<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
