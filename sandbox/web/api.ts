// What the page asks the sandbox to do, turned into what Slack would do: a composer line becomes a
// signed slash command, a click a signed block_actions, a modal submit a signed view_submission.
// When the bot fails to answer, the page shows Slack's own complaint (dispatch_failed, …).
import type { FakeSlack } from '../fake-slack/server.js';
import type { SlackWire, WireResponse } from '../slack-wire.js';
import { DEMO_KINDS, type DemoKind, type DemoSessions } from '../demo-sessions.js';
import { buildState, elementAt, missingRequired, stateOf, type RawValues } from './view-state.js';

export const SLACKBOT = 'USLACKBOT';

export interface ApiDeps {
  fake: FakeSlack;
  wire: SlackWire;
  demo: DemoSessions;
  /** Known user ids; requests naming anyone else are refused. */
  userIds: ReadonlySet<string>;
}

export type ApiAnswer = { status: number; body: Record<string, unknown> };

const ok = (body: Record<string, unknown> = {}): ApiAnswer => ({ status: 200, body: { ok: true, ...body } });
const bad = (error: string): ApiAnswer => ({ status: 400, body: { ok: false, error } });
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Slack encodes what people type: & < > become entities. */
const encode = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export class SandboxApi {
  constructor(private readonly deps: ApiDeps) {}

  async handle(route: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const user = str(body.user);
    if (!user || !this.deps.userIds.has(user)) return bad('unknown user');
    switch (route) {
      case 'command':
        return this.command(user, body);
      case 'action':
        return this.action(user, body);
      case 'view/submit':
        return this.submit(user, body);
      case 'view/close':
        return this.closeView(user, body);
      case 'demo':
        return this.demoSessions(user, str(body.channel), str(body.kind) ?? '', str(body.op) ?? 'open');
      default:
        return { status: 404, body: { ok: false, error: 'not_found' } };
    }
  }

  /** `/db …` → signed slash command; `/demo …` → demo sessions; anything else → a plain message. */
  private async command(user: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const channel = str(body.channel);
    const text = (str(body.text) ?? '').trim();
    if (!channel || !this.deps.fake.channels.has(channel)) return bad('unknown channel');
    if (!text) return bad('empty message');
    const slash = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
    if (!slash) {
      this.deps.fake.store.add({ channel, user, text: encode(text), blocks: [] });
      return ok();
    }
    const [, command, rest] = slash as unknown as [string, string, string];
    if (command === 'demo') {
      const [op = '', kind = ''] = rest.split(/\s+/);
      if (op === 'delete-rows') return this.demoSessions(user, channel, '', 'delete-rows');
      return op === 'close' ? this.demoSessions(user, channel, kind, 'close') : this.demoSessions(user, channel, op, 'open');
    }
    if (command !== 'db') {
      this.slackbot(channel, user, `\`/${command}\` is not a valid command. In this sandbox, \`/db …\` talks to dbops, \`/demo idle|idle-in-transaction|blocking|snapshot|close\` opens demo sessions and \`/demo delete-rows\` makes dead tuples.`);
      return ok();
    }
    let res: WireResponse | undefined;
    try {
      res = await this.deps.wire.slashCommand({ text: rest, userId: user, channelId: channel, command: '/db' });
    } catch {
      res = undefined;
    }
    if (!res || res.status !== 200) this.slackbot(channel, user, `/db failed with the error "dispatch_failed"${res ? ` (HTTP ${res.status})` : ' (the bot is not answering)'}`);
    else if (res.ms > 3000) this.slackbot(channel, user, `/db failed with the error "operation_timeout" (answered in ${Math.round(res.ms)} ms)`);
    return ok({ status: res?.status ?? 0, ms: res?.ms });
  }

  /** A click or a dispatched change, with the element's selection and (in a modal) the view's state. */
  private async action(user: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const actionId = str(body.actionId);
    if (!actionId) return bad('actionId is required');
    const viewId = str(body.viewId);
    const channel = str(body.channel);
    const messageTs = str(body.messageTs);
    const blockId = str(body.blockId);
    const view = viewId ? this.deps.fake.viewStore.get(viewId)?.view : undefined;
    if (viewId && !view) return bad('this modal is no longer open');
    const blocks = view ? view.blocks : channel && messageTs ? this.deps.fake.store.find(channel, messageTs)?.blocks : undefined;
    const element = elementAt(blocks, blockId, actionId);
    const selected = body.selected;
    const raw = typeof selected === 'string' || selected === null ? selected : Array.isArray(selected) ? selected.filter((x): x is string => typeof x === 'string') : undefined;
    const selection = element && element.type !== 'button' ? stateOf(element, raw) : undefined;
    let res: WireResponse;
    try {
      res = await this.deps.wire.blockActions({
        userId: user,
        actionId,
        ...(viewId ? { viewId, viewState: buildState(view!, sanitize(body.values)) } : { channelId: channel ?? '', ...(messageTs ? { messageTs } : {}) }),
        ...(blockId ? { blockId } : {}),
        ...(str(body.value) !== undefined ? { value: str(body.value) } : {}),
        ...(selection ? { action: selection } : {}),
      });
    } catch (err) {
      return bad((err as Error).message);
    }
    if (res.status !== 200 && channel) this.slackbot(channel, user, `dbops did not handle that click (HTTP ${res.status}).`);
    return ok({ status: res.status });
  }

  private async submit(user: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const viewId = str(body.viewId);
    const stored = viewId ? this.deps.fake.viewStore.get(viewId) : undefined;
    if (!viewId || !stored) return bad('this modal is no longer open');
    const state = buildState(stored.view, sanitize(body.values));
    const required = missingRequired(stored.view, state);
    if (Object.keys(required).length) return ok({ errors: required });
    let res: WireResponse | undefined;
    try {
      res = await this.deps.wire.viewSubmission({ userId: user, view: { id: viewId, state } });
    } catch {
      res = undefined;
    }
    if (!res || res.status !== 200) return ok({ error: 'We had some trouble connecting. Try again?' });
    const ack = (res.json ?? {}) as { response_action?: string; errors?: Record<string, string> };
    return ok(ack.response_action === 'errors' ? { errors: ack.errors ?? {} } : {});
  }

  private async closeView(user: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const viewId = str(body.viewId);
    const stored = viewId ? this.deps.fake.viewStore.get(viewId) : undefined;
    if (!viewId || !stored) return ok();
    const clear = stored.view.clear_on_close === true;
    if (stored.view.notify_on_close === true) await this.deps.wire.viewClosed({ userId: user, view: { id: viewId }, isCleared: clear }).catch(() => undefined);
    else this.deps.fake.viewStore.close(viewId, clear);
    return ok();
  }

  private async demoSessions(user: string, channel: string | undefined, kind: string, op: string): Promise<ApiAnswer> {
    const tell = (text: string) => channel && this.deps.fake.channels.has(channel) && this.slackbot(channel, user, text);
    if (op === 'close') {
      await this.deps.demo.close(DEMO_KINDS.includes(kind as DemoKind) ? (kind as DemoKind) : undefined);
      tell('Closed the demo sessions.');
      return ok({ sessions: this.deps.demo.list() });
    }
    if (op === 'delete-rows') return this.deleteRows(tell);
    if (!DEMO_KINDS.includes(kind as DemoKind)) {
      tell(`Unknown demo session kind \`${encode(kind)}\`: use one of ${DEMO_KINDS.map((k) => `\`${k}\``).join(', ')}, \`/demo delete-rows\`, or \`/demo close\`.`);
      return bad('unknown kind');
    }
    try {
      const opened = await this.deps.demo.open(kind as DemoKind);
      tell(`Opened ${opened.map((s) => `\`${s.application}\` pid ${s.pid} (${s.state})`).join(' and ')} on the demo database.`);
      return ok({ opened, sessions: this.deps.demo.list() });
    } catch (err) {
      tell(`Could not open a demo session: ${encode((err as Error).message)}`);
      return { status: 500, body: { ok: false, error: (err as Error).message } };
    }
  }

  /** Fresh dead tuples in orders, and what that means for a vacuum now: the pinned path's set-up. */
  private async deleteRows(tell: (text: string) => unknown): Promise<ApiAnswer> {
    try {
      const { deleted, holders } = await this.deps.demo.deleteRows();
      const holder = holders[0];
      tell(
        holder
          ? `Deleted ${deleted} rows from \`orders\`. \`${holder.application}\` pid ${holder.pid} took its snapshot before that and still sees them, so \`/db vacuum demo orders\` cannot remove them until it ends.`
          : `Deleted ${deleted} rows from \`orders\`. Nothing holds an old snapshot, so \`/db vacuum demo orders\` removes them; open an old snapshot (\`/demo snapshot\`) before deleting to see them pinned.`,
      );
      return ok({ deleted, sessions: this.deps.demo.list() });
    } catch (err) {
      tell(`Could not delete demo rows: ${encode((err as Error).message)}`);
      return { status: 500, body: { ok: false, error: (err as Error).message } };
    }
  }

  /** An ephemeral from Slackbot, as Slack shows its own errors. */
  private slackbot(channel: string, user: string, text: string): void {
    this.deps.fake.store.add({ channel, user: SLACKBOT, text, blocks: [], ephemeralTo: user });
  }
}

/** Only strings and string lists, keyed by block and action ids. */
function sanitize(values: unknown): RawValues {
  const out: RawValues = {};
  if (!values || typeof values !== 'object') return out;
  for (const [block, actions] of Object.entries(values as Record<string, unknown>)) {
    if (!actions || typeof actions !== 'object') continue;
    for (const [action, v] of Object.entries(actions as Record<string, unknown>)) {
      if (typeof v === 'string' || v === null) (out[block] ??= {})[action] = v;
      else if (Array.isArray(v)) (out[block] ??= {})[action] = v.filter((x): x is string => typeof x === 'string');
    }
  }
  return out;
}
