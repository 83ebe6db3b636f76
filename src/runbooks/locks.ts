import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { blockingChains, type LockNode } from '../postgres/locks.js';
import { esc } from '../slack/blocks.js';
import { endAdvice } from './advice.js';
import { defineRunbook, type ReportSection } from './runbook.js';

const args = z.object({}).strict();

function render(n: LockNode, depth: number, out: string[]): void {
  if (out.length > 60) return;
  const pad = '  '.repeat(depth);
  const head = depth === 0 ? `ROOT pid ${n.pid}` : `└ pid ${n.pid} waits for ${n.waitingFor?.mode ?? '?'}${n.waitingFor?.relation ? ` on ${n.waitingFor.relation}` : n.waitingFor ? ` (${n.waitingFor.lockType})` : ''} ${formatDuration(n.waitingFor?.waitSeconds ?? 0)}`;
  out.push(`${pad}${head} · ${n.user ?? '?'} · ${n.app || '-'} · ${n.state ?? '?'}${n.xactSeconds !== null ? ` · xact ${formatDuration(n.xactSeconds)}` : ''}`);
  out.push(`${pad}  ${(n.query ?? '').replace(/\s+/g, ' ').slice(0, 100)}`);
  for (const c of n.blocks) render(c, depth + 1, out);
}

const count = (n: LockNode): number => n.blocks.reduce((s, c) => s + 1 + count(c), 0);

export const locks = defineRunbook<z.infer<typeof args>, Record<string, never>>({
  name: 'locks',
  brief: 'Blocking chains, root blockers first',
  summary: 'Blocking chains, root blockers first: who blocks whom, lock mode, relation, query, durations.',
  usage: '/db locks <target>',
  examples: ['/db locks orders-prod'],
  grammar: { positionals: [], flags: {} },
  args,
  risk: () => 'read',
  plan: async ({ target }) => ({ summary: `Lock chains on ${target.name}`, steps: ['Read blocking chains (pg_blocking_pids, 2 s statement_timeout)'], facts: {}, display: [] }),
  steps: [{ name: 'chains', run: async ({ session }) => ({ chains: await session((c) => blockingChains(c)) }) }],
  result: (outputs) => {
    const chains = (outputs.chains as { chains: LockNode[] }).chains;
    return { headline: chains.length ? `${chains.length} root blocker(s) holding up ${chains.reduce((s, c) => s + count(c), 0)} session(s)` : 'No blocking chains', facts: [] };
  },
  report: (outputs, _f, _a, target) => {
    const chains = (outputs.chains as { chains: LockNode[] }).chains;
    if (!chains.length) return [{ mrkdwn: `No session on \`${target.name}\` is waiting on another's lock right now.` }];
    const sections: ReportSection[] = chains.slice(0, 8).map((root) => {
      const out: string[] = [];
      render(root, 0, out);
      return { title: `Root blocker ${root.pid} — blocks ${count(root)} session(s)`, code: out.join('\n') };
    });
    // Per root blocker the command that releases its locks: cancel for a running query, kill for a
    // session idle in its transaction (cancel cannot touch it, and /db cancel would refuse it).
    const advice = chains.slice(0, 8).map((root) => {
      const a = endAdvice(target, root);
      return `• pid *${root.pid}*: ${a.command ? `\`${esc(a.command)}\` — ${esc(a.why)}` : esc(a.why)}`;
    });
    sections.push({ title: 'To end a root blocker', mrkdwn: `${advice.join('\n')}\nAll root blockers at once: \`/db kill ${target.name} blockers\` (needs approval).` });
    return sections;
  },
});
