// The Slack wire fake, exercised with the real clients the bot uses: @slack/web-api's WebClient
// against FakeSlack, and a real Bolt App receiving what SlackWire sends.
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel } from '@slack/bolt';
import { WebClient, WebClientEvent } from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeSlack, SlackWire, signSlackRequest } from './harness/index.js';

const CHANNEL = 'C0INCIDENTS';
const button = (actionId: string, value: string) => ({
  type: 'actions',
  block_id: 'approval',
  elements: [{ type: 'button', action_id: actionId, value, text: { type: 'plain_text', text: 'Approve' }, style: 'primary' }],
});
const modal = (title = 'Vacuum') => ({
  type: 'modal' as const,
  callback_id: 'vacuum_modal',
  private_metadata: '{"target":"orders-prod"}',
  title: { type: 'plain_text' as const, text: title },
  submit: { type: 'plain_text' as const, text: 'Run' },
  blocks: [{ type: 'input', block_id: 'table', label: { type: 'plain_text', text: 'Table' }, element: { type: 'plain_text_input', action_id: 'value' } }],
});

describe('FakeSlack Web API via WebClient', () => {
  let fake: FakeSlack;
  let client: WebClient;

  beforeAll(async () => {
    fake = await FakeSlack.start({ channels: { [CHANNEL]: 'incidents' }, usergroups: { S0DBAS: ['U0ALICE', 'U0BOB'] } });
    client = new WebClient('xoxb-test', { slackApiUrl: fake.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 0 } });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('answers auth.test as the sandbox bot', async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({ ok: true, user_id: 'UBOT', team_id: 'T0SANDBOX' });
    expect(fake.callsOf('auth.test')).toHaveLength(1);
  });

  it('records chat.postMessage with blocks decoded from the form body and assigns increasing ts', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*vacuum* orders-prod' } }, button('approve', 'run-1')];
    const first = await client.chat.postMessage({ channel: CHANNEL, text: 'vacuum requested', blocks });
    const second = await client.chat.postMessage({ channel: CHANNEL, text: 'second' });

    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    const [call] = fake.callsOf('chat.postMessage');
    expect(call).toMatchObject({ status: 200, args: { channel: CHANNEL, text: 'vacuum requested' } });
    expect(call!.args.blocks).toEqual(blocks); // an array again, not the JSON string WebClient sent
    expect(fake.messagesIn(CHANNEL).map((m) => [m.ts, m.user, m.text])).toEqual([
      [first.ts, 'UBOT', 'vacuum requested'],
      [second.ts, 'UBOT', 'second'],
    ]);
  });

  it('keeps threads: replies count on the parent, reply_broadcast is a boolean, permalinks carry thread_ts', async () => {
    const parent = await client.chat.postMessage({ channel: CHANNEL, text: 'restore started' });
    const reply = await client.chat.postMessage({ channel: CHANNEL, thread_ts: parent.ts!, text: 'step 1/3', reply_broadcast: true });

    const thread = fake.thread(CHANNEL, parent.ts!);
    expect(thread.map((m) => m.text)).toEqual(['restore started', 'step 1/3']);
    expect(thread[0]!.replyCount).toBe(1);
    expect(thread[1]).toMatchObject({ thread_ts: parent.ts, reply_broadcast: true });

    const parentLink = await client.chat.getPermalink({ channel: CHANNEL, message_ts: parent.ts! });
    const replyLink = await client.chat.getPermalink({ channel: CHANNEL, message_ts: reply.ts! });
    expect(parentLink.permalink).toBe(`${fake.baseUrl}/archives/${CHANNEL}/p${parent.ts!.replace('.', '')}`);
    expect(replyLink.permalink).toBe(`${fake.baseUrl}/archives/${CHANNEL}/p${reply.ts!.replace('.', '')}?thread_ts=${parent.ts}&cid=${CHANNEL}`);
  });

  it('updates by channel+ts, marks edited, and answers message_not_found for unknown ts', async () => {
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'pending' });
    const seen: string[] = [];
    fake.events.on('update', (m) => seen.push(m.text));

    await client.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'approved', blocks: [{ type: 'divider' }] });
    expect(fake.messagesIn(CHANNEL)[0]).toMatchObject({ text: 'approved', edited: true, blocks: [{ type: 'divider' }] });
    expect(seen).toEqual(['approved']);

    await expect(client.chat.update({ channel: CHANNEL, ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { ok: false, error: 'message_not_found' },
    });
    expect(fake.callsOf('chat.update').map((c) => c.response)).toMatchObject([{ ok: true }, { ok: false, error: 'message_not_found' }]);
  });

  it('stores ephemerals for one user and refuses to chat.update them', async () => {
    const res = await client.chat.postEphemeral({ channel: CHANNEL, user: 'U0ALICE', text: 'bad target "nope"' });
    expect(res.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(fake.messagesIn(CHANNEL)).toMatchObject([{ ts: res.message_ts, ephemeralTo: 'U0ALICE', text: 'bad target "nope"' }]);
    await expect(client.chat.update({ channel: CHANNEL, ts: res.message_ts!, text: 'x' })).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
  });

  it('rejects Block Kit over Slack limits with invalid_blocks', async () => {
    const tooMany = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    await expect(client.chat.postMessage({ channel: CHANNEL, text: 'x', blocks: tooMany })).rejects.toMatchObject({
      data: { error: 'invalid_blocks' },
    });
    expect(fake.messagesIn(CHANNEL)).toHaveLength(0);
  });

  it('opens modals only with a fresh, unused trigger_id and attributes them to the clicking user', async () => {
    await expect(client.views.open({ trigger_id: '', view: modal() })).rejects.toMatchObject({ data: { error: 'invalid_arguments' } });

    const trigger = fake.issueTriggerId('U0ALICE');
    const opened = await client.views.open({ trigger_id: trigger, view: modal() });
    expect(opened.view).toMatchObject({ callback_id: 'vacuum_modal', root_view_id: opened.view!.id, private_metadata: '{"target":"orders-prod"}' });
    expect(fake.callsOf('views.open')[1]!.args.view).toMatchObject({ type: 'modal', title: { text: 'Vacuum' } });
    expect(fake.views.get(opened.view!.id!)).toMatchObject({ user: 'U0ALICE' });

    await expect(client.views.open({ trigger_id: trigger, view: modal() })).rejects.toMatchObject({ data: { error: 'exchanged_trigger_id' } });

    fake.viewStore.triggerTtlMs = 0;
    const stale = fake.issueTriggerId('U0ALICE');
    await new Promise((r) => setTimeout(r, 5));
    await expect(client.views.open({ trigger_id: stale, view: modal() })).rejects.toMatchObject({ data: { error: 'expired_trigger_id' } });
    fake.viewStore.triggerTtlMs = 3000;
  });

  it('pushes at most two views onto a modal and updates by view_id with hash checking', async () => {
    const root = await client.views.open({ trigger_id: fake.issueTriggerId('U0ALICE'), view: modal() });
    const rootId = root.view!.id!;
    const pushed = await client.views.push({ trigger_id: fake.issueTriggerId('U0ALICE', rootId), view: modal('Step 2') });
    expect(pushed.view).toMatchObject({ root_view_id: rootId, previous_view_id: rootId });
    await client.views.push({ trigger_id: fake.issueTriggerId('U0ALICE', rootId), view: modal('Step 3') });
    await expect(client.views.push({ trigger_id: fake.issueTriggerId('U0ALICE', rootId), view: modal('Step 4') })).rejects.toMatchObject({
      data: { error: 'push_limit_reached' },
    });

    await expect(client.views.update({ view_id: rootId, hash: 'stale', view: modal('Again') })).rejects.toMatchObject({
      data: { error: 'hash_conflict' },
    });
    const updated = await client.views.update({ view_id: rootId, hash: root.view!.hash!, view: modal('Again') });
    expect(updated.view).toMatchObject({ id: rootId, title: { text: 'Again' } });
    expect(updated.view!.hash).not.toBe(root.view!.hash);
  });

  it('lists user-group members, and fails them like a Free plan when told to', async () => {
    await expect(client.usergroups.users.list({ usergroup: 'S0DBAS' })).resolves.toMatchObject({ users: ['U0ALICE', 'U0BOB'] });
    fake.usergroupsError = 'plan_upgrade_required';
    await expect(client.usergroups.users.list({ usergroup: 'S0DBAS' })).rejects.toMatchObject({ data: { error: 'plan_upgrade_required' } });
  });

  it('answers users.info and conversations.info from its directory', async () => {
    fake.users.set('U0ALICE', { name: 'alice', profile: { display_name: 'Alice' } });
    const alice = await client.users.info({ user: 'U0ALICE' });
    expect(alice.user).toMatchObject({ id: 'U0ALICE', name: 'alice', profile: { display_name: 'Alice' } });
    const info = await client.conversations.info({ channel: CHANNEL });
    expect(info.channel).toMatchObject({ id: CHANNEL, name: 'incidents' });
    await expect(client.conversations.info({ channel: 'C0NOPE' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
  });

  it('answers unknown methods with unknown_method and still records them', async () => {
    await expect(client.apiCall('pins.add', { channel: CHANNEL })).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    expect(fake.callsOf('pins.add')).toMatchObject([{ status: 200, args: { channel: CHANNEL } }]);
  });

  it('answers 429 with Retry-After, and WebClient waits and retries', async () => {
    const retrying = new WebClient('xoxb-test', { slackApiUrl: fake.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 1 } });
    const rateLimited: number[] = [];
    retrying.on(WebClientEvent.RATE_LIMITED, (seconds: number) => rateLimited.push(seconds));
    fake.rateLimitNext('chat.postMessage', 1);

    const res = await retrying.chat.postMessage({ channel: CHANNEL, text: 'progress 50%' });

    expect(res.ok).toBe(true);
    const calls = fake.callsOf('chat.postMessage');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(950);
    expect(rateLimited).toEqual([1]);
    expect(fake.messagesIn(CHANNEL)).toHaveLength(1);
  });

  it('waitForCall resolves for past and future calls and names what it saw on timeout', async () => {
    await client.auth.test();
    await expect(fake.waitForCall('auth.test')).resolves.toMatchObject({ method: 'auth.test' });

    const later = fake.waitForCall('chat.postMessage', (c) => c.args.text === 'done');
    await client.chat.postMessage({ channel: CHANNEL, text: 'not yet' });
    await client.chat.postMessage({ channel: CHANNEL, text: 'done' });
    await expect(later).resolves.toMatchObject({ args: { text: 'done' } });

    await expect(fake.waitForCall('views.open', undefined, 30)).rejects.toThrow(/no matching views.open call within 30 ms; calls so far: auth.test\(200\)/);
  });

  it('records response_url posts, stores them as ephemeral or in-channel, replaces the original, and allows 5 uses', async () => {
    const original = await client.chat.postMessage({ channel: CHANNEL, text: 'approve?', blocks: [button('approve', 'r1')] });
    const url = fake.responseUrlFor({ channel: CHANNEL, user: 'U0BOB', messageTs: original.ts! });
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    const first = await post({ text: 'only you can see this' });
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('ok');
    await post({ response_type: 'in_channel', text: 'approved by <@U0BOB>' });
    await post({ replace_original: true, text: 'approved', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'done' } }] });

    expect(fake.callsOf('response_url')[0]).toMatchObject({ status: 200, args: { text: 'only you can see this' }, responseUrl: { channel: CHANNEL, user: 'U0BOB' } });
    const msgs = fake.messagesIn(CHANNEL);
    expect(msgs.find((m) => m.ts === original.ts)).toMatchObject({ text: 'approved', edited: true });
    expect(msgs.find((m) => m.text === 'only you can see this')).toMatchObject({ ephemeralTo: 'U0BOB' });
    expect(msgs.find((m) => m.text === 'approved by <@U0BOB>')?.ephemeralTo).toBeUndefined();

    await post({ text: '4' });
    await post({ delete_original: true });
    expect(fake.messagesIn(CHANNEL).some((m) => m.ts === original.ts)).toBe(false);
    const sixth = await post({ text: '6' });
    expect(sixth.status).toBe(404);
    expect(fake.callsOf('response_url').map((c) => c.status)).toEqual([200, 200, 200, 200, 200, 404]);
  });
});

describe('signSlackRequest', () => {
  it("reproduces Slack's documented signature example", () => {
    // docs.slack.dev/authentication/verifying-requests-from-slack worked example.
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618)).toEqual({
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'x-slack-request-timestamp': '1531420618',
    });
  });

  it('matches a hand-computed HMAC and defaults the timestamp to now', () => {
    const before = Math.floor(Date.now() / 1000);
    const headers = signSlackRequest('s3cret', 'payload=%7B%7D');
    const ts = Number(headers['x-slack-request-timestamp']);
    expect(ts).toBeGreaterThanOrEqual(before);
    const expected = createHmac('sha256', 's3cret').update(`v0:${ts}:payload=%7B%7D`).digest('hex');
    expect(headers['x-slack-signature']).toBe(`v0=${expected}`);
  });
});

describe('SlackWire into a real Bolt app', () => {
  const signingSecret = 'wire-test-secret';
  let fake: FakeSlack;
  let app: App;
  let wire: SlackWire;
  const seen: { command?: Record<string, unknown>; action?: Record<string, unknown>; submission?: Record<string, unknown> } = {};

  beforeAll(async () => {
    fake = await FakeSlack.start({ channels: { [CHANNEL]: 'incidents' }, users: { U0ALICE: { name: 'alice' } } });
    app = new App({ token: 'xoxb-test', signingSecret, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: fake.apiUrl } });
    app.command('/db', async ({ command, ack, respond, client }) => {
      seen.command = command;
      if (command.text === 'modal') {
        await ack();
        await client.views.open({ trigger_id: command.trigger_id, view: modal() });
        return;
      }
      await ack(`got: ${command.text}`);
      await respond({ text: 'working on it' });
    });
    app.action('approve', async ({ ack, body, respond }) => {
      await ack();
      seen.action = body as unknown as Record<string, unknown>;
      await respond({ replace_original: true, text: 'approved' });
    });
    app.view('vacuum_modal', async ({ ack, view, body }) => {
      seen.submission = body as unknown as Record<string, unknown>;
      const table = view.state.values.table?.value?.value;
      if (!table) await ack({ response_action: 'errors', errors: { table: 'Pick a table' } });
      else await ack();
    });
    const server = (await app.start(0)) as Server;
    const { port } = server.address() as AddressInfo;
    wire = new SlackWire({ botUrl: `http://127.0.0.1:${port}/slack/events`, signingSecret, fake });
  });
  afterAll(async () => {
    await app.stop();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('delivers a slash command Bolt accepts, with Slack’s fields, and shows the ack and respond() to the user', async () => {
    const res = await wire.slashCommand({ text: 'vacuum orders-prod users', userId: 'U0ALICE', channelId: CHANNEL });

    expect(res.status).toBe(200);
    expect(res.body).toBe('got: vacuum orders-prod users');
    expect(seen.command).toMatchObject({
      command: '/db',
      text: 'vacuum orders-prod users',
      user_id: 'U0ALICE',
      user_name: 'alice',
      channel_id: CHANNEL,
      channel_name: 'incidents',
      team_id: 'T0SANDBOX',
      api_app_id: 'A0DBOPS',
    });
    expect(seen.command!.trigger_id).toMatch(/^\d+\.\d+\.[0-9a-f]{32}$/);
    expect(seen.command!.response_url).toMatch(new RegExp(`^${fake.baseUrl}/response/`));
    await fake.waitForCall('response_url');
    expect(fake.messagesIn(CHANNEL).map((m) => [m.text, m.ephemeralTo])).toEqual([
      ['got: vacuum orders-prod users', 'U0ALICE'],
      ['working on it', 'U0ALICE'],
    ]);
  });

  it('lets the bot open a modal from the command trigger, and applies view_submission acks', async () => {
    await wire.slashCommand({ text: 'modal', userId: 'U0ALICE', channelId: CHANNEL });
    const opened = await fake.waitForCall('views.open');
    const viewId = (opened.response as { view: { id: string } }).view.id;
    expect(fake.views.get(viewId)).toMatchObject({ user: 'U0ALICE' });

    const empty = await wire.viewSubmission({ userId: 'U0ALICE', view: { id: viewId, state: { values: { table: { value: { type: 'plain_text_input', value: null } } } } } });
    expect(empty.json).toEqual({ response_action: 'errors', errors: { table: 'Pick a table' } });
    expect(fake.views.has(viewId)).toBe(true);
    expect(seen.submission).toMatchObject({
      type: 'view_submission',
      user: { id: 'U0ALICE', name: 'alice' },
      view: { id: viewId, callback_id: 'vacuum_modal', private_metadata: '{"target":"orders-prod"}' },
    });

    const ok = await wire.viewSubmission({ userId: 'U0ALICE', view: { id: viewId, state: { values: { table: { value: { type: 'plain_text_input', value: 'users' } } } } } });
    expect(ok.status).toBe(200);
    expect(fake.views.has(viewId)).toBe(false);
  });

  it('clicks a button on the newest message holding it; Bolt sees a faithful block_actions body', async () => {
    const posted = await app.client.chat.postMessage({ channel: CHANNEL, text: 'approve vacuum?', blocks: [button('approve', 'run-42')] });

    const res = await wire.blockActions({ userId: 'U0BOB', channelId: CHANNEL, actionId: 'approve' });

    expect(res.status).toBe(200);
    expect(seen.action).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0BOB', username: 'u0bob', team_id: 'T0SANDBOX' },
      container: { type: 'message', message_ts: posted.ts, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'incidents' },
      message: { ts: posted.ts, text: 'approve vacuum?', user: 'UBOT' },
      actions: [{ action_id: 'approve', block_id: 'approval', value: 'run-42', type: 'button', style: 'primary' }],
    });
    await fake.waitForCall('response_url');
    expect(fake.messagesIn(CHANNEL).find((m) => m.ts === posted.ts)).toMatchObject({ text: 'approved', edited: true });
  });

  it('is rejected by Bolt when the signature is wrong, the timestamp stale, or the content type has a charset', async () => {
    const body = new URLSearchParams({ command: '/db', text: 'help' }).toString();
    expect((await wire.post(body, { signature: 'v0=deadbeef' })).status).toBe(401);
    expect((await wire.post(body, { timestampSec: Math.floor(Date.now() / 1000) - 301 })).status).toBe(401);
    expect((await wire.post(body, { contentType: 'application/x-www-form-urlencoded; charset=UTF-8' })).status).toBe(400);
  });
});
