// Every message, card and modal the bot builds (from its own builders, with sample data that
// includes markup-looking user text) goes through the sandbox page's renderer: no unknown
// elements, nothing left unrendered (raw <@U…>, entities), only safe tags and links, and within
// the Block Kit limits the fake Slack enforces. The renderer is the page's own module, DOM-less.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTargets } from '../src/config.js';
import { tellRequester, type RequesterEvent } from '../src/jobs/notify-requester.js';
import { helpMessage, targetsMessage, verbHelpMessage } from '../src/commands/help.js';
import { defaultRegistry } from '../src/runbooks/index.js';
import { killModal } from '../src/slack/kill-modal.js';
import {
  announcement,
  approvalCard,
  auditMessage,
  auditVerifyMessage,
  errorMessage,
  failureMessage,
  infoMessage,
  progressMessage,
  reportMessage,
  requestMessage,
  resultMessage,
  runDetailMessage,
  runsMessage,
  type Message,
} from '../src/slack/messages.js';
import { MetadataSealer } from '../src/slack/metadata.js';
import { denyModal, runbookModal } from '../src/slack/views.js';
import type { AuditRow } from '../src/store/audit.js';
import type { RunDeps } from '../src/jobs/deps.js';
import type { RunRow, RunState } from '../src/store/runs.js';
import { blockErrors, viewErrors } from '../sandbox/fake-slack/validate.js';
import { TARGETS_FILE } from '../sandbox/paths.js';
import { renderView } from '../sandbox/public/blockkit.js';
import { renderMessage } from '../sandbox/public/message.js';
import { emoji, mrkdwn } from '../sandbox/public/mrkdwn.js';
import { TAGS, textOf, walk, type VNode } from '../sandbox/public/vnode.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const ctx = () => ({
  users: { U0REQUESTER: { name: 'Riley Requester' }, U0APPROVER: { name: 'Alex Approver' }, U0BYSTANDER: { name: 'Sam Bystander' } },
  channels: { C0OPS: 'ops', C0INCIDENTS: 'incidents' },
  now: NOW,
  errors: [] as string[],
});

const registry = defaultRegistry();
const targets = loadTargets(TARGETS_FILE, { DEMO_URL: 'postgres://postgres@127.0.0.1:5432/dbops_demo' });
// Markup-looking user text: the bot escapes & < > (mrkdwn has no escape for * _ ~, so those style).
const HOSTILE = '<script>alert(1)</script> & <@U0BYSTANDER> <!here>';

function run(over: Partial<RunRow> = {}): RunRow {
  return {
    id: 'r_0123456789ab',
    runbook: 'vacuum',
    target: 'demo',
    environment: 'staging',
    args: { table: 'orders', full: true },
    risk: 'destructive',
    plan: {
      summary: `VACUUM FULL public.orders ${HOSTILE}`,
      steps: ['Measure the table', 'Run VACUUM (FULL) "public"."orders"', `Report ${HOSTILE}`],
      facts: { table: 'public.orders' },
      display: [
        { label: 'Table', value: 'public.orders', code: true },
        { label: 'Dead tuples now', value: '32000' },
        { label: 'Odd <value>', value: HOSTILE },
      ],
      detail: '    pid user           app\n   4242 dbops_demo_app demo-app <idle> ```',
      impact: 'ACCESS EXCLUSIVE lock on public.orders',
      etaSeconds: 90,
    },
    planHash: 'abc',
    requester: 'U0REQUESTER',
    channel: 'C0OPS',
    reason: `disk nearly full ${HOSTILE}`,
    state: 'pending_approval',
    requiredApprovals: 1,
    expiresAt: new Date(NOW + 30 * 60_000),
    nextStep: 0,
    checkpoint: {},
    result: null,
    error: null,
    threadChannel: 'C0INCIDENTS',
    threadTs: '1736942400.000100',
    cardChannel: 'C0INCIDENTS',
    cardTs: '1736942400.000100',
    attempts: 1,
    createdAt: new Date(NOW - 60_000),
    startedAt: new Date(NOW - 30_000),
    finishedAt: null,
    ...over,
  } as RunRow;
}

const STATES: RunState[] = ['pending_approval', 'queued', 'running', 'succeeded', 'failed', 'denied', 'expired', 'refused'];
const LINK = 'http://127.0.0.1:9/archives/C0INCIDENTS/p1736942400000100';
const auditRow = (i: number): AuditRow =>
  ({ id: String(i), at: new Date(NOW - i * 1000).toISOString(), actor: i % 2 ? 'U0APPROVER' : 'system', action: 'approve', runId: 'r_0123456789ab', target: 'demo', channel: 'C0OPS', outcome: `ok ${HOSTILE}`, detail: {}, prevHash: 'p', hash: 'h' }) as AuditRow;

function messages(): Array<[string, Message]> {
  const out: Array<[string, Message]> = [
    ['error', errorMessage(`Unknown target \`nope\`. ${HOSTILE}`)],
    ['info', infoMessage('No runs yet.')],
    ['announcement', announcement(run({ state: 'running' }), ['U0APPROVER'])],
    ['progress with bar', progressMessage(run(), { text: 'scanning heap — 500 of 1008 blocks', percent: 49.6 }, 'vacuum')],
    ['progress without bar', progressMessage(run(), { text: `waiting for lock ${HOSTILE}` }, 'vacuum')],
    ['result', resultMessage(run(), { headline: `VACUUM public.orders: dead tuples 32000 → 0 ${HOSTILE}`, facts: [{ label: 'Dead tuples', value: '32000 → 0' }, { label: 'Command', value: 'VACUUM "public"."orders"', code: true }] }, 12)],
    ['failure', failureMessage(run(), `lock timeout ${HOSTILE}`, 'vacuum', 'table unchanged')],
    ['report', reportMessage(`Status of demo ${HOSTILE}`, [{ title: 'By state', mrkdwn: '*idle* 2 · _active_ 1' }, { fields: [{ label: 'Size', value: '19 MB' }] }, { code: `  pid state\n 4242 idle ${HOSTILE}` }], 'demo (self-hosted, staging)')],
    ['runs (none)', runsMessage([], 'demo')],
    ['runs', runsMessage(STATES.map((state, i) => run({ id: `r_00000000000${i}`, state })))],
    ['runs (200, truncated to fit)', runsMessage(Array.from({ length: 200 }, (_, i) => run({ id: `r_${String(i).padStart(12, '0')}` })))],
    ['audit (none)', auditMessage([], 'for demo (last 24h)')],
    ['audit', auditMessage(Array.from({ length: 45 }, (_, i) => auditRow(i)), 'for demo (last 24h)')],
    ['audit verify ok', auditVerifyMessage({ ok: true, rows: 12 })],
    ['audit verify broken', auditVerifyMessage({ ok: false, rows: 12, brokenAt: { id: '7', reason: 'hash mismatch' } })],
    ['help', helpMessage(registry)],
    ['targets', targetsMessage(targets)],
    ['help for an unknown verb', verbHelpMessage(registry, 'nope<script>')],
  ];
  for (const verb of [...registry.verbs(), 'help', 'targets', 'runs', 'run', 'audit']) out.push([`help ${verb}`, verbHelpMessage(registry, verb)]);
  for (const state of STATES) {
    const r = run({ state, ...(state === 'failed' ? { error: `boom ${HOSTILE}`, finishedAt: new Date(NOW) } : {}) });
    out.push([`request (${state})`, requestMessage(r, { approvers: ['U0APPROVER'] })]);
    out.push([`run detail (${state})`, runDetailMessage(r, [{ idx: 0, name: 'measure', state: 'done', attempts: 1, error: null }, { idx: 1, name: 'vacuum', state: 'failed', attempts: 2, error: `timeout ${HOSTILE}` }], [{ approver: 'U0APPROVER', decision: 'approve', reason: HOSTILE, at: new Date(NOW) }], LINK)]);
  }
  out.push(['card pending', approvalCard(run(), { approvedBy: [] })]);
  out.push(['card pending, quorum 2', approvalCard(run({ requiredApprovals: 2 }), { approvedBy: ['U0APPROVER'] })]);
  out.push(['card approved', approvalCard(run({ state: 'queued' }), { approvedBy: ['U0APPROVER'], threadLink: LINK })]);
  out.push(['card denied', approvalCard(run({ state: 'denied' }), { approvedBy: [], deniedBy: 'U0APPROVER', denyReason: `not now ${HOSTILE}` })]);
  out.push(['card expired', approvalCard(run({ state: 'expired' }), { approvedBy: [], note: 'expired — request again' })]);
  return out;
}

function modals(): Array<[string, Record<string, unknown>]> {
  const sealer = new MetadataSealer('render-test-secret');
  const meta = (verb: string) => sealer.seal('runbook', { verb, channel: 'C0OPS', user: 'U0REQUESTER' });
  const out: Array<[string, Record<string, unknown>]> = [['deny', denyModal('r_0123456789ab', `VACUUM FULL ${HOSTILE}`, sealer.seal('deny', { runId: 'r_0123456789ab', user: 'U0APPROVER' }))]];
  for (const rb of registry.all()) {
    out.push([`runbook ${rb.name} (empty)`, runbookModal(rb, targets, {}, meta(rb.name))]);
    out.push([`runbook ${rb.name} (prefilled)`, runbookModal(rb, targets, { target: 'demo', raw: { table: 'orders', analyze: true, what: ['idle'] } }, meta(rb.name))]);
  }
  out.push(['kill (empty)', killModal(targets, {}, meta('kill'), '_Choose what to kill to see the matching sessions._')]);
  out.push(['kill (preview)', killModal(targets, { target: 'demo', selector: 'idle', olderThan: '10m', includeSuperusers: true, reason: HOSTILE }, meta('kill'), `*Matching now: 2 sessions*\n\`\`\`  pid app\n 4242 demo-app ${HOSTILE}\`\`\``)]);
  return out;
}

/** What every rendering must satisfy, whatever it is. */
function checkRendered(node: VNode, errors: string[]): string {
  expect(errors).toEqual([]);
  walk(node, (n) => {
    expect(TAGS.has(n.tag), `tag <${n.tag}>`).toBe(true);
    if (n.attrs.href !== undefined) expect(n.attrs.href).toMatch(/^(https?:\/\/|mailto:)/);
    expect(n.tag).not.toBe('script');
  });
  const text = textOf(node);
  // User text shows exactly as typed (escaped by the bot, decoded by the page: not bold, no
  // mention, no @here); apart from it, nothing is left as Slack markup — mentions, dates, entities.
  expect(withoutUserText(text)).not.toMatch(/<[@#!][A-Za-z]|&(lt|gt|amp);/);
  return text;
}

const escaped = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const decoded = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Removes the sample user text, whole or cut short by the bot's truncation ("…", maybe mid-entity). */
function withoutUserText(text: string): string {
  let out = text.split(HOSTILE).join('');
  const e = escaped(HOSTILE);
  for (let k = e.length - 1; k > 0; k--) out = out.split(`${decoded(e.slice(0, k))}…`).join('');
  return out;
}

describe('the page renders everything the bot builds', () => {
  const allMessages = messages();
  it.each(allMessages)('message: %s', (_name, m) => {
    expect(blockErrors(m.blocks)).toEqual([]);
    expect(m.blocks.length).toBeGreaterThan(0);
    const c = ctx();
    const node = renderMessage({ channel: 'C0OPS', ts: '1736942400.000100', user: 'UBOT', text: m.text, blocks: m.blocks, replyCount: 2 }, c);
    const text = checkRendered(node, c.errors);
    expect(text).toContain('dbops');
    if (JSON.stringify(m.blocks).includes('<@U0REQUESTER>')) expect(text).toContain('@Riley Requester');
    if (JSON.stringify(m.blocks).includes(escaped(HOSTILE))) expect(text).toContain(HOSTILE);
  });

  it.each(modals())('modal: %s', (_name, view) => {
    expect(viewErrors(view)).toEqual([]);
    const c = ctx();
    const node = renderView({ ...view, id: 'V0000000001' }, c);
    checkRendered(node, c.errors);
    const inputs: VNode[] = [];
    walk(node, (n) => n.attrs['data-block-id'] !== undefined && n.attrs['data-action-id'] !== undefined && inputs.push(n));
    const declared = (view.blocks as Array<{ type: string }>).filter((b) => b.type === 'input').length;
    expect(inputs.length).toBeGreaterThanOrEqual(declared);
  });

  it('covers every verb the registry offers (so a new runbook is rendered here too)', () => {
    const names = allMessages.map(([n]) => n);
    for (const verb of registry.verbs()) expect(names).toContain(`help ${verb}`);
  });
});

describe('renderer', () => {
  const render = (text: string) => {
    const c = ctx();
    const nodes = mrkdwn(text, c);
    return { nodes, text: nodes.map(textOf).join(''), c };
  };
  const tags = (nodes: Array<VNode | string>) => {
    const out: string[] = [];
    nodes.forEach((n) => typeof n !== 'string' && walk(n, (x) => out.push(x.tag)));
    return out;
  };

  it('renders mrkdwn styles, code, quotes, links, mentions, dates and emoji', () => {
    const { nodes, text } = render('*bold* _it_ ~gone~ `a &lt;b&gt;` <https://example.com|site> <@U0APPROVER> <#C0INCIDENTS> <!date^1736942400^{date_num}|fallback> :white_check_mark:\n> quoted\n```x &amp; y```');
    expect(tags(nodes)).toEqual(expect.arrayContaining(['b', 'i', 's', 'code', 'a', 'span', 'blockquote', 'pre']));
    expect(text).toContain('a <b>');
    expect(text).toContain('@Alex Approver');
    expect(text).toContain('#incidents');
    expect(text).toContain('2025-01-15');
    expect(text).toContain('✅');
    expect(text).toContain('x & y');
  });

  it('keeps snake_case and lone asterisks as text', () => {
    const { nodes, text } = render('pending_approval and 2 * 3 * 4');
    expect(tags(nodes)).toEqual([]);
    expect(text).toBe('pending_approval and 2 * 3 * 4');
  });

  it('never produces a script URL or an element from text', () => {
    const { nodes, text } = render('<javascript:alert(1)|click> &lt;img src=x onerror=alert(1)&gt;');
    expect(tags(nodes)).toEqual([]);
    expect(text).toContain('<img src=x onerror=alert(1)>');
  });

  it('reports unknown blocks and elements instead of dropping them', () => {
    const c = ctx();
    renderMessage({ channel: 'C0OPS', ts: '1.000100', user: 'UBOT', text: '', blocks: [{ type: 'video' }, { type: 'actions', elements: [{ type: 'workflow_button' }] }], replyCount: 0 }, c);
    expect(c.errors).toEqual(['/blocks/0: unknown block type "video"', '/blocks/1/elements/0: unknown element type "workflow_button"']);
  });
});

describe('what the requester is told (ephemerals of src/jobs/notify-requester.ts)', () => {
  /** The message tellRequester would send, caught at the notifier. */
  async function told(e: RequesterEvent): Promise<{ channel: string; user: string; message: Message }> {
    const sent: Array<{ channel: string; user: string; message: Message }> = [];
    const deps = {
      notifier: { ephemeral: async (channel: string, user: string, message: Message) => (sent.push({ channel, user, message }), true) },
      permalink: async () => LINK,
      log: { warn: () => undefined },
    } as unknown as Pick<RunDeps, 'notifier' | 'permalink' | 'log'>;
    await tellRequester(deps, run({ state: 'queued' }), e);
    expect(sent).toHaveLength(1);
    return sent[0]!;
  }

  const events: Array<[string, RequesterEvent, string]> = [
    ['approved', { kind: 'approved', by: ['U0APPROVER'] }, 'was approved by @Alex Approver'],
    ['started', { kind: 'started' }, '▶️ Your run'],
    ['finished', { kind: 'finished', headline: 'VACUUM FULL public.orders: dead tuples 32000 → 0' }, '✅ Your run'],
    ['failed', { kind: 'failed', error: `lock timeout ${HOSTILE}` }, '❌ Your run'],
    ['expired', { kind: 'expired', minutes: 30 }, '⏰ Your request'],
  ];
  it.each(events)('%s: to the requester only, in their channel, drawn with its icon and the thread link', async (kind, e, shows) => {
    const { channel, user, message } = await told(e);
    expect({ channel, user }).toEqual({ channel: 'C0OPS', user: 'U0REQUESTER' });
    expect(blockErrors(message.blocks)).toEqual([]);
    const c = ctx();
    const node = renderMessage({ channel, ts: '1736942400.000200', user: 'UBOT', text: message.text, blocks: message.blocks, ephemeralTo: user, replyCount: 0 }, c);
    const text = checkRendered(node, c.errors);
    expect(text).toContain(shows);
    expect(text).toContain('Only visible to you');
    expect(text).not.toMatch(/:[a-z_]+:/);
    const links: VNode[] = [];
    walk(node, (n: VNode) => n.tag === 'a' && links.push(n));
    // An expiry has no thread to point at (nothing ran); everything else links to it.
    if (kind === 'expired') expect(links).toEqual([]);
    else expect(links.map((l) => [textOf(l), l.attrs.href])).toEqual([['Progress thread', LINK]]);
  });
});

describe('emoji', () => {
  /** Every `:shortcode:` the bot writes into a string (after a quote, backtick, space or bracket). */
  function shortcodes(dir: string, out = new Set<string>()): Set<string> {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) shortcodes(path, out);
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/(?<=[`'"( ]):([a-z][a-z0-9_+-]*):/g)) out.add(m[1]!);
    }
    return out;
  }

  it('the page draws every emoji shortcode the bot sends (none is left as :text:)', () => {
    const codes = [...shortcodes(join(process.cwd(), 'src'))];
    expect(codes.length).toBeGreaterThan(5);
    expect(codes.filter((code) => emoji(`:${code}:`) === `:${code}:`)).toEqual([]);
  });
});
