// What Slack sends to the bot, signed exactly as Slack signs it: slash commands and
// interaction payloads POSTed to the bot's /slack/events. With a FakeSlack attached, the
// response_url and trigger_id it hands out point back at the fake, clicks find their message
// in the fake's store, and the bot's acks (command replies, modal responses) land there too.
import { createHmac } from 'node:crypto';
import type { FakeSlack } from './fake-slack/server.js';
import {
  actionTs,
  blockActionsPayload,
  findElement,
  randomTriggerId,
  slashCommandForm,
  viewClosedPayload,
  viewSubmissionPayload,
  type SlackUserRef,
  type WorkspaceContext,
} from './fake-slack/payloads.js';
import { toSlackMessage } from './fake-slack/store.js';
import { BOT_USER_ID, TEAM_ID } from './fake-slack/types.js';

/** Slack's v0 request signature: HMAC-SHA256(secret, `v0:${ts}:${rawBody}`). */
export function signSlackRequest(
  signingSecret: string,
  rawBody: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): { 'x-slack-signature': string; 'x-slack-request-timestamp': string } {
  const hex = createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex');
  return { 'x-slack-signature': `v0=${hex}`, 'x-slack-request-timestamp': String(timestampSec) };
}

export interface SlackWireOptions {
  /** e.g. http://127.0.0.1:3000/slack/events */
  botUrl: string;
  signingSecret: string;
  fake?: FakeSlack;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  verificationToken?: string;
}

export interface WireResponse {
  status: number;
  /** Raw response body (Bolt acks with '' or a string or JSON). */
  body: string;
  /** The body parsed as JSON when it is sent as JSON (content-type application/json, as Slack requires), else undefined. */
  json: unknown;
  contentType: string | undefined;
  /** Round-trip time; Slack gives up after 3000 ms. */
  ms: number;
}

/** A request as Slack would POST it to the bot: the exact body and its (signed) headers. */
export interface SignedRequest {
  rawBody: string;
  headers: Record<string, string>;
}

export interface PostOptions {
  timestampSec?: number;
  /** Overrides the computed x-slack-signature (negative tests). */
  signature?: string;
  /** Defaults to exactly application/x-www-form-urlencoded, the only value Bolt form-parses. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface SlashCommandOptions {
  text: string;
  userId: string;
  userName?: string;
  channelId: string;
  command?: string;
  /** Defaults to a fresh response URL on the fake (or an unreachable hooks.slack.com one). */
  responseUrl?: string;
  triggerId?: string;
}

export interface BlockActionsOptions {
  userId: string;
  userName?: string;
  /** Channel of the clicked message; omit for a click inside a modal (viewId). */
  channelId?: string;
  /** Clicked message; defaults to the newest message in the fake's channel holding actionId. */
  messageTs?: string;
  actionId: string;
  value?: string;
  blockId?: string;
  triggerId?: string;
  container?: Record<string, unknown>;
  message?: Record<string, unknown>;
  /** A click on an element inside this open modal. */
  viewId?: string;
  /** Extra fields merged into the action (e.g. selected_option for a select). */
  action?: Record<string, unknown>;
  /** For a click inside a modal: the inputs' current values, as Slack sends them in view.state. */
  viewState?: { values: Record<string, Record<string, unknown>> };
}

export interface ViewPayloadInput {
  id: string;
  callback_id?: string;
  private_metadata?: string;
  state?: { values: Record<string, Record<string, unknown>> };
  [key: string]: unknown;
}

export class SlackWire {
  private readonly ws: WorkspaceContext;

  constructor(private readonly options: SlackWireOptions) {
    this.ws = {
      teamId: options.teamId ?? TEAM_ID,
      teamDomain: options.teamDomain ?? 'sandbox',
      apiAppId: options.apiAppId ?? 'A0DBOPS',
      token: options.verificationToken ?? 'sandbox-verification-token',
    };
  }

  async slashCommand(o: SlashCommandOptions): Promise<WireResponse> {
    const res = await this.post(this.slashCommandBody(o));
    this.showCommandAck(res, o.channelId, o.userId);
    return res;
  }

  /** The signed request Slack would send for this slash command, not sent (a load generator sends it its own way). */
  slashCommandRequest(o: SlashCommandOptions): SignedRequest {
    return this.signed(this.slashCommandBody(o));
  }

  private slashCommandBody(o: SlashCommandOptions): string {
    const fake = this.options.fake;
    const channel = { id: o.channelId, name: this.channelName(o.channelId) };
    const form = slashCommandForm(this.ws, {
      user: this.user(o.userId, o.userName),
      channel,
      command: o.command ?? '/db',
      text: o.text,
      responseUrl: o.responseUrl ?? fake?.responseUrlFor({ channel: o.channelId, user: o.userId }) ?? this.unreachableResponseUrl(),
      triggerId: o.triggerId ?? fake?.issueTriggerId(o.userId) ?? randomTriggerId(),
    });
    return new URLSearchParams(form).toString();
  }

  async blockActions(o: BlockActionsOptions): Promise<WireResponse> {
    const fake = this.options.fake;
    const user = this.user(o.userId, o.userName);
    const triggerId = o.triggerId ?? fake?.issueTriggerId(o.userId, o.viewId) ?? randomTriggerId();
    let payload: Record<string, unknown>;
    if (o.viewId !== undefined) {
      const stored: Record<string, unknown> = fake?.viewStore.get(o.viewId)?.view ?? { id: o.viewId };
      const view = o.viewState ? { ...stored, state: o.viewState } : stored;
      const found = findElement(view.blocks, o.actionId);
      payload = blockActionsPayload(this.ws, {
        user,
        triggerId,
        action: this.action(o, found),
        container: o.container ?? { type: 'view', view_id: o.viewId },
        view,
      });
    } else {
      if (o.channelId === undefined) throw new Error('SlackWire.blockActions: channelId or viewId is required');
      const stored = this.clickedMessage(o.channelId, o.userId, o.actionId, o.messageTs);
      const messageTs = o.messageTs ?? stored?.ts;
      const ephemeral = stored?.ephemeralTo !== undefined;
      // Slack omits `message` for clicks on ephemeral messages.
      const message = o.message ?? (stored && !ephemeral ? toSlackMessage(stored) : undefined);
      const found = findElement(message?.blocks ?? stored?.blocks, o.actionId);
      payload = blockActionsPayload(this.ws, {
        user,
        triggerId,
        action: this.action(o, found),
        container: o.container ?? {
          type: 'message',
          message_ts: messageTs,
          channel_id: o.channelId,
          is_ephemeral: ephemeral,
          ...(stored?.thread_ts !== undefined ? { thread_ts: stored.thread_ts } : {}),
        },
        channel: { id: o.channelId, name: this.channelName(o.channelId) },
        message,
        responseUrl:
          fake?.responseUrlFor({ channel: o.channelId, user: o.userId, ...(messageTs ? { messageTs } : {}) }) ?? this.unreachableResponseUrl(),
      });
    }
    return this.postPayload(payload);
  }

  /** Submits a modal; with a fake, the stored view fills in what `view` leaves out and the ack is applied. */
  async viewSubmission(o: { userId: string; userName?: string; view: ViewPayloadInput; triggerId?: string }): Promise<WireResponse> {
    const fake = this.options.fake;
    const view = this.fullView(o.view);
    const triggerId = o.triggerId ?? fake?.issueTriggerId(o.userId, o.view.id) ?? randomTriggerId();
    const res = await this.postPayload(viewSubmissionPayload(this.ws, this.user(o.userId, o.userName), view, triggerId));
    if (fake && res.status === 200) this.applyViewAck(res, o.view.id, o.userId);
    return res;
  }

  async viewClosed(o: { userId: string; userName?: string; view: ViewPayloadInput; isCleared?: boolean }): Promise<WireResponse> {
    const view = this.fullView(o.view);
    const res = await this.postPayload(viewClosedPayload(this.ws, this.user(o.userId, o.userName), view, o.isCleared ?? false));
    this.options.fake?.viewStore.close(o.view.id, o.isCleared ?? false);
    return res;
  }

  /** Low-level: POST a raw body, signed unless `signature` is given. */
  async post(rawBody: string, o: PostOptions = {}): Promise<WireResponse> {
    return this.send(this.signed(rawBody, o));
  }

  /** rawBody with the headers Slack sends with it, signed unless `signature` is given. */
  signed(rawBody: string, o: PostOptions = {}): SignedRequest {
    const headers = {
      'content-type': o.contentType ?? 'application/x-www-form-urlencoded',
      ...signSlackRequest(this.options.signingSecret, rawBody, o.timestampSec),
      ...(o.signature !== undefined ? { 'x-slack-signature': o.signature } : {}),
      ...o.headers,
    };
    return { rawBody, headers };
  }

  private async send({ rawBody, headers }: SignedRequest): Promise<WireResponse> {
    const started = performance.now();
    // A string body with an explicit header: URLSearchParams would append ";charset=UTF-8".
    const response = await fetch(this.options.botUrl, { method: 'POST', headers, body: rawBody });
    const body = await response.text();
    const ms = performance.now() - started;
    const contentType = response.headers.get('content-type') ?? undefined;
    let json: unknown;
    try {
      // Slack reads a response as a message object only when it says it is JSON; otherwise as text.
      json = body !== '' && contentType?.startsWith('application/json') ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, body, json, contentType, ms };
  }

  private postPayload(payload: Record<string, unknown>): Promise<WireResponse> {
    return this.post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  }

  private action(o: BlockActionsOptions, found: ReturnType<typeof findElement>): Record<string, unknown> {
    const element = found?.element;
    return {
      action_id: o.actionId,
      block_id: o.blockId ?? found?.blockId ?? 'actions',
      ...(element?.text !== undefined ? { text: element.text } : { text: { type: 'plain_text', text: o.actionId, emoji: true } }),
      ...(o.value !== undefined ? { value: o.value } : element?.value !== undefined ? { value: element.value } : {}),
      ...(element?.style !== undefined ? { style: element.style } : {}),
      type: 'button',
      action_ts: actionTs(),
      ...o.action,
    };
  }

  /** The message a click came from: the given ts, else the newest one this user sees that holds the action. */
  private clickedMessage(channel: string, user: string, actionId: string, ts: string | undefined) {
    const visible = (this.options.fake?.messagesIn(channel) ?? []).filter((m) => m.ephemeralTo === undefined || m.ephemeralTo === user);
    if (ts !== undefined) return visible.find((m) => m.ts === ts);
    const withAction = visible.filter((m) => findElement(m.blocks, actionId));
    if (this.options.fake && withAction.length === 0) {
      throw new Error(`SlackWire.blockActions: no message in ${channel} visible to ${user} has action_id ${actionId}`);
    }
    return withAction.at(-1);
  }

  private fullView(input: ViewPayloadInput): Record<string, unknown> {
    const stored: Record<string, unknown> = this.options.fake?.viewStore.get(input.id)?.view ?? {};
    return { ...stored, ...input, state: input.state ?? stored.state ?? { values: {} } };
  }

  /** Slack shows a non-empty command ack to the user (ephemeral unless response_type says otherwise). */
  private showCommandAck(res: WireResponse, channel: string, user: string): void {
    const fake = this.options.fake;
    if (!fake || res.status !== 200 || res.body === '') return;
    const msg = (res.json && typeof res.json === 'object' ? res.json : { text: res.body }) as Record<string, unknown>;
    fake.store.add({
      channel,
      user: BOT_USER_ID,
      text: typeof msg.text === 'string' ? msg.text : '',
      blocks: Array.isArray(msg.blocks) ? msg.blocks : [],
      ...(msg.response_type === 'in_channel' ? {} : { ephemeralTo: user }),
    });
  }

  /** What Slack does with a view_submission ack: close, clear, update, push, or keep (errors). */
  private applyViewAck(res: WireResponse, viewId: string, user: string): void {
    const views = this.options.fake!.viewStore;
    const ack = (res.json ?? {}) as { response_action?: string; view?: Record<string, unknown> };
    switch (ack.response_action) {
      case 'errors':
        return;
      case 'clear':
        views.close(viewId, true);
        return;
      case 'update':
        if (ack.view) views.update({ viewId }, ack.view);
        return;
      case 'push':
        if (ack.view) views.push(ack.view, user, viewId);
        return;
      default:
        views.close(viewId);
    }
  }

  private user(id: string, name?: string): SlackUserRef {
    const configured = this.options.fake?.users.get(id)?.name;
    return { id, name: name ?? (typeof configured === 'string' ? configured : id.toLowerCase()) };
  }

  private channelName(id: string): string {
    const named = this.options.fake?.channels.get(id);
    if (named) return named;
    return id.startsWith('D') ? 'directmessage' : id.toLowerCase();
  }

  private unreachableResponseUrl(): string {
    return `https://hooks.slack.com/commands/${this.ws.teamId}/${Date.now()}/${randomTriggerId().split('.')[2]}`;
  }
}
