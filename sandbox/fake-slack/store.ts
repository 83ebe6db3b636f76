// Messages per channel, as the sandbox page renders them. Public reads return copies so a
// caller holding a message keeps what it saw (tests compare before/after an update).
import type { EventEmitter } from 'node:events';
import type { FakeSlackEventMap, StoredMessage } from './types.js';
import { APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID } from './types.js';

export type NewMessage = Omit<StoredMessage, 'ts' | 'replyCount'>;
export type MessagePatch = Partial<Pick<StoredMessage, 'text' | 'blocks' | 'attachments'>>;

export class MessageStore {
  private readonly byChannel = new Map<string, StoredMessage[]>();
  private lastSec = 0;
  private lastMicro = 0;

  constructor(private readonly events: EventEmitter<FakeSlackEventMap>) {}

  /** Slack-style ts ("1700000000.000100"): wall-clock seconds, strictly increasing across the fake. */
  nextTs(): string {
    let sec = Math.max(Math.floor(Date.now() / 1000), this.lastSec);
    let micro = sec === this.lastSec ? this.lastMicro + 100 : 100;
    if (micro > 999_999) {
      sec += 1;
      micro = 100;
    }
    this.lastSec = sec;
    this.lastMicro = micro;
    return `${sec}.${String(micro).padStart(6, '0')}`;
  }

  add(input: NewMessage): StoredMessage {
    const message: StoredMessage = { ...input, ts: this.nextTs(), replyCount: 0 };
    if (message.thread_ts !== undefined && message.ephemeralTo === undefined) {
      const parent = this.live(message.channel, message.thread_ts);
      if (parent) {
        parent.replyCount += 1;
        this.events.emit('update', copy(parent));
      }
    }
    this.list(message.channel).push(message);
    this.events.emit('message', copy(message));
    return copy(message);
  }

  find(channel: string, ts: string): StoredMessage | undefined {
    const message = this.live(channel, ts);
    return message && copy(message);
  }

  update(channel: string, ts: string, patch: MessagePatch): StoredMessage | undefined {
    const message = this.live(channel, ts);
    if (!message) return undefined;
    if (patch.text !== undefined) message.text = patch.text;
    if (patch.blocks !== undefined) message.blocks = patch.blocks;
    if (patch.attachments !== undefined) message.attachments = patch.attachments;
    message.edited = true;
    this.events.emit('update', copy(message));
    return copy(message);
  }

  remove(channel: string, ts: string): StoredMessage | undefined {
    const list = this.list(channel);
    const index = list.findIndex((m) => m.ts === ts);
    if (index < 0) return undefined;
    const [removed] = list.splice(index, 1);
    if (removed!.thread_ts !== undefined && removed!.ephemeralTo === undefined) {
      const parent = this.live(channel, removed!.thread_ts);
      if (parent) {
        parent.replyCount = Math.max(0, parent.replyCount - 1);
        this.events.emit('update', copy(parent));
      }
    }
    this.events.emit('delete', copy(removed!));
    return copy(removed!);
  }

  /** Every message in the channel (top level, thread replies and ephemerals), oldest first. */
  messagesIn(channel: string): StoredMessage[] {
    return (this.byChannel.get(channel) ?? []).map(copy);
  }

  /** Like conversations.replies: the parent (if stored) then its replies, oldest first. */
  thread(channel: string, ts: string): StoredMessage[] {
    return this.messagesIn(channel).filter((m) => m.ts === ts || m.thread_ts === ts);
  }

  snapshot(): Map<string, StoredMessage[]> {
    return new Map([...this.byChannel].map(([channel, list]) => [channel, list.map(copy)]));
  }

  /** Forgets messages but not the clock, so ts stay unique across a reset. */
  clear(): void {
    this.byChannel.clear();
  }

  private live(channel: string, ts: string): StoredMessage | undefined {
    return this.byChannel.get(channel)?.find((m) => m.ts === ts);
  }

  private list(channel: string): StoredMessage[] {
    let list = this.byChannel.get(channel);
    if (!list) this.byChannel.set(channel, (list = []));
    return list;
  }
}

function copy(message: StoredMessage): StoredMessage {
  return structuredClone(message);
}

/** The message object Slack puts in API answers and interaction payloads. */
export function toSlackMessage(m: StoredMessage): Record<string, unknown> {
  const fromBot = m.user === BOT_USER_ID;
  return {
    type: 'message',
    ...(m.thread_ts !== undefined && m.reply_broadcast ? { subtype: 'thread_broadcast' } : {}),
    user: m.user,
    ...(fromBot ? { bot_id: BOT_ID, app_id: APP_ID } : {}),
    text: m.text,
    blocks: m.blocks,
    ...(m.attachments ? { attachments: m.attachments } : {}),
    ts: m.ts,
    team: TEAM_ID,
    ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts } : {}),
    ...(m.edited ? { edited: { user: m.user, ts: m.ts } } : {}),
    ...(m.replyCount > 0 ? { reply_count: m.replyCount } : {}),
  };
}
