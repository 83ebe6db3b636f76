// response_url: a per-interaction webhook. Slack allows 5 uses within 30 minutes; by default a
// response is a new ephemeral message for the user; replace_original / delete_original act on
// the message the interaction came from (or, for a slash command, on the last response sent).
import { randomBytes } from 'node:crypto';
import { bool, str } from './body.js';
import type { MessageStore } from './store.js';
import { BOT_USER_ID } from './types.js';

export interface ResponseUrlContext {
  channel: string;
  user: string;
  /** The message whose button was clicked; what replace_original / delete_original act on. */
  messageTs?: string;
}

interface Entry extends ResponseUrlContext {
  id: string;
  uses: number;
  createdAt: number;
  lastTs?: string;
}

export type UseResult = { ok: true; entry: ResponseUrlContext & { id: string } } | { ok: false; status: 404; error: string };

export class ResponseUrls {
  maxUses = 5;
  ttlMs = 30 * 60 * 1000;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly store: MessageStore) {}

  create(context: ResponseUrlContext): string {
    const id = randomBytes(12).toString('hex');
    this.entries.set(id, { ...context, id, uses: 0, createdAt: Date.now() });
    return id;
  }

  /** Counts one use and applies the body to the message store. */
  use(id: string, body: Record<string, unknown>): UseResult {
    const entry = this.entries.get(id);
    if (!entry) return { ok: false, status: 404, error: 'no_service' };
    if (Date.now() - entry.createdAt > this.ttlMs) return { ok: false, status: 404, error: 'expired_url' };
    if (entry.uses >= this.maxUses) return { ok: false, status: 404, error: 'used_url' };
    entry.uses += 1;
    this.apply(entry, body);
    const { channel, user, messageTs } = entry;
    return { ok: true, entry: { id, channel, user, ...(messageTs !== undefined ? { messageTs } : {}) } };
  }

  clear(): void {
    this.entries.clear();
  }

  private apply(entry: Entry, body: Record<string, unknown>): void {
    const originalTs = entry.messageTs ?? entry.lastTs;
    const original = originalTs !== undefined ? this.store.find(entry.channel, originalTs) : undefined;
    if (bool(body.delete_original)) {
      if (original) this.store.remove(entry.channel, original.ts);
      return;
    }
    const blocks = Array.isArray(body.blocks) ? body.blocks : undefined;
    if (bool(body.replace_original) && original) {
      this.store.update(entry.channel, original.ts, { text: str(body.text) ?? '', blocks: blocks ?? [] });
      return;
    }
    const thread_ts = str(body.thread_ts) || undefined;
    const posted = this.store.add({
      channel: entry.channel,
      user: BOT_USER_ID,
      text: str(body.text) ?? '',
      blocks: blocks ?? [],
      ...(body.response_type === 'in_channel' ? {} : { ephemeralTo: entry.user }),
      ...(thread_ts ? { thread_ts } : {}),
    });
    entry.lastTs = posted.ts;
  }
}
