// Shapes shared by the fake Slack Web API (server, stores, routes) and the sandbox page.

/** One HTTP call the bot made to the fake, as decoded by the fake. */
export interface RecordedCall {
  /** Web API method (e.g. `chat.postMessage`), or `response_url` for POSTs to a response URL. */
  method: string;
  /** Decoded arguments; `blocks`, `attachments`, `view`, `metadata` are JSON-decoded when sent as strings. */
  args: Record<string, unknown>;
  /** Date.now() when the request arrived. */
  at: number;
  /** HTTP status the fake answered with (200, or 429 when rate limited, 404 for a spent response_url). */
  status: number;
  /** The JSON answer (absent for bodies that are not JSON). */
  response?: unknown;
  /** For `response_url` calls: which URL and whose context it belongs to. */
  responseUrl?: { id: string; channel: string; user: string; messageTs?: string };
}

/** A message as the sandbox UI renders it. */
export interface StoredMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  /** Author; the bot is `UBOT`. */
  user: string;
  text: string;
  blocks: unknown[];
  attachments?: unknown[];
  /** Set for ephemeral messages: the only user who sees it. */
  ephemeralTo?: string;
  edited?: boolean;
  /** Number of thread replies (only meaningful on a thread parent). */
  replyCount: number;
  reply_broadcast?: boolean;
}

/** A modal view the bot opened, pushed or updated. */
export interface StoredView {
  id: string;
  /** User the modal is shown to (known when the trigger_id came from SlackWire). */
  user?: string;
  /** The view as Slack returns it (id, hash, root_view_id, … merged over what the bot sent). */
  view: Record<string, unknown> & { id: string; hash: string; root_view_id: string };
}

export type ApiArgs = Record<string, unknown>;
/** What a Web API method handler answers: the JSON body (status 200, Slack style). */
export type ApiResult = { ok: true; [k: string]: unknown } | { ok: false; error: string; [k: string]: unknown };

export interface FakeSlackOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Channel id → name, for conversations.info / conversations.list and channel_name in wire payloads. */
  channels?: Record<string, string>;
  /** User id → fields merged over the synthetic users.info answer. */
  users?: Record<string, Record<string, unknown>>;
  /** User-group id → member user ids, for usergroups.users.list. */
  usergroups?: Record<string, string[]>;
}

export const BOT_USER_ID = 'UBOT';
export const BOT_ID = 'BBOT';
export const TEAM_ID = 'T0SANDBOX';
export const APP_ID = 'A0DBOPS';

/** Events the fake emits so a page (or a test) can follow along live. Payloads are snapshots. */
export type FakeSlackEventMap = {
  call: [RecordedCall];
  message: [StoredMessage];
  update: [StoredMessage];
  delete: [StoredMessage];
  view: [{ action: 'open' | 'push' | 'update' | 'close'; view: StoredView }];
};
