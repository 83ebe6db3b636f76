// Modals and trigger_ids. Slack lets a trigger_id be exchanged once, within 3 s, and a modal
// stack hold the opened view plus 2 pushed ones; the fake enforces both so the bot's handling
// of those limits is testable. trigger_ids the fake never issued are accepted (hand-made tests).
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { FakeSlackEventMap, StoredView } from './types.js';
import { APP_ID, BOT_ID, TEAM_ID } from './types.js';

interface Trigger {
  user: string;
  /** The view the interaction happened in: views.push puts the new view on its stack. */
  viewId?: string;
  issuedAt: number;
  used: boolean;
}

const MAX_STACK = 3;

export class ViewStore {
  triggerTtlMs = 3000;
  private readonly views = new Map<string, StoredView>();
  private readonly triggers = new Map<string, Trigger>();
  private seq = 0;

  constructor(private readonly events: EventEmitter<FakeSlackEventMap>) {}

  /** A trigger_id shaped like Slack's ("123.456.hex"), remembered with who clicked and where. */
  issueTrigger(user: string, viewId?: string): string {
    const id = `${Date.now()}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { user, viewId, issuedAt: Date.now(), used: false });
    return id;
  }

  /** Exchanges a trigger_id once; answers the Slack error code when that is not allowed. */
  exchange(triggerId: string | undefined): { user?: string; viewId?: string } | { error: string } {
    if (!triggerId) return { error: 'invalid_arguments' };
    const trigger = this.triggers.get(triggerId);
    if (!trigger) return {};
    if (trigger.used) return { error: 'exchanged_trigger_id' };
    if (Date.now() - trigger.issuedAt > this.triggerTtlMs) return { error: 'expired_trigger_id' };
    trigger.used = true;
    return { user: trigger.user, viewId: trigger.viewId };
  }

  open(view: Record<string, unknown>, user: string | undefined): StoredView {
    const id = this.nextId();
    return this.put('open', { id, user, view: this.decorate(view, id, id, null) });
  }

  push(view: Record<string, unknown>, user: string | undefined, fromViewId?: string): StoredView | { error: string } {
    const below = (fromViewId && this.views.get(fromViewId)) || this.topFor(user);
    if (!below) return { error: 'not_found' };
    const rootId = below.view.root_view_id;
    if (this.stack(rootId).length >= MAX_STACK) return { error: 'push_limit_reached' };
    const id = this.nextId();
    return this.put('push', { id, user: below.user ?? user, view: this.decorate(view, id, rootId, below.id) });
  }

  update(ref: { viewId?: string; externalId?: string; hash?: string }, view: Record<string, unknown>): StoredView | { error: string } {
    const current = ref.viewId
      ? this.views.get(ref.viewId)
      : [...this.views.values()].find((v) => ref.externalId !== undefined && v.view.external_id === ref.externalId);
    if (!current) return { error: 'not_found' };
    if (ref.hash !== undefined && ref.hash !== current.view.hash) return { error: 'hash_conflict' };
    const previous = (current.view.previous_view_id as string | null | undefined) ?? null;
    return this.put('update', { ...current, view: this.decorate(view, current.id, current.view.root_view_id, previous) });
  }

  /** Closes one view (pop), or with `all` its whole stack (response_action clear / clear_on_close). */
  close(viewId: string, all = false): StoredView[] {
    const target = this.views.get(viewId);
    if (!target) return [];
    const closing = all ? this.stack(target.view.root_view_id) : [target];
    for (const v of closing) {
      this.views.delete(v.id);
      this.events.emit('view', { action: 'close', view: structuredClone(v) });
    }
    return closing.map((v) => structuredClone(v));
  }

  get(viewId: string): StoredView | undefined {
    const v = this.views.get(viewId);
    return v && structuredClone(v);
  }

  snapshot(): Map<string, StoredView> {
    return new Map([...this.views].map(([id, v]) => [id, structuredClone(v)]));
  }

  clear(): void {
    this.views.clear();
    this.triggers.clear();
  }

  private stack(rootId: string): StoredView[] {
    return [...this.views.values()].filter((v) => v.view.root_view_id === rootId);
  }

  private topFor(user: string | undefined): StoredView | undefined {
    return [...this.views.values()].filter((v) => user === undefined || v.user === user).at(-1);
  }

  private put(action: 'open' | 'push' | 'update', stored: StoredView): StoredView {
    this.views.set(stored.id, stored);
    this.events.emit('view', { action, view: structuredClone(stored) });
    return structuredClone(stored);
  }

  private nextId(): string {
    this.seq += 1;
    return `V${String(this.seq).padStart(10, '0')}`;
  }

  /** The fields Slack adds to a view it returns. */
  private decorate(view: Record<string, unknown>, id: string, rootId: string, previousId: string | null): StoredView['view'] {
    return {
      type: 'modal',
      blocks: [],
      private_metadata: '',
      callback_id: '',
      external_id: '',
      clear_on_close: false,
      notify_on_close: false,
      ...view,
      state: { values: {} },
      id,
      team_id: TEAM_ID,
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      root_view_id: rootId,
      previous_view_id: previousId,
      app_id: APP_ID,
      bot_id: BOT_ID,
    };
  }
}
