// Who and where: auth.test, users, user groups, conversations. Answers come from the fake's
// configurable maps so tests can stage approvers, group failures and channel names.
import { str } from '../body.js';
import { BOT_ID, BOT_USER_ID, TEAM_ID } from '../types.js';
import type { ApiContext, ApiHandler } from './context.js';
import { fail } from './context.js';

export const authTest: ApiHandler = (_args, ctx) => ({
  ok: true,
  url: `${ctx.baseUrl}/`,
  team: 'sandbox',
  user: 'dbops',
  team_id: TEAM_ID,
  user_id: BOT_USER_ID,
  bot_id: BOT_ID,
  is_enterprise_install: false,
});

export const usersInfo: ApiHandler = (args, ctx) => {
  const id = str(args.user);
  if (!id) return fail('user_not_found');
  const configured = ctx.users.get(id) ?? {};
  const name = id.toLowerCase();
  const profile = { real_name: `User ${id}`, display_name: name, email: `${name}@sandbox.invalid` };
  const user = {
    id,
    team_id: TEAM_ID,
    name,
    real_name: profile.real_name,
    deleted: false,
    is_bot: id === BOT_USER_ID,
    is_admin: false,
    tz: 'Etc/UTC',
    ...configured,
    profile: { ...profile, ...((configured.profile as object | undefined) ?? {}) },
  };
  return { ok: true, user };
};

export const usergroupsUsersList: ApiHandler = (args, ctx) => {
  if (ctx.usergroupsError) return fail(ctx.usergroupsError);
  const users = ctx.usergroups.get(str(args.usergroup) ?? '');
  return users ? { ok: true, users: [...users] } : fail('no_such_subteam');
};

function channelObject(ctx: ApiContext, id: string): Record<string, unknown> {
  const name = ctx.channels.get(id) ?? id.toLowerCase();
  return { id, name, is_channel: true, is_private: false, is_archived: false, is_member: true, context_team_id: TEAM_ID };
}

export const conversationsInfo: ApiHandler = (args, ctx) => {
  const id = str(args.channel);
  if (!id || !ctx.channels.has(id)) return fail('channel_not_found');
  return { ok: true, channel: channelObject(ctx, id) };
};

export const conversationsList: ApiHandler = (_args, ctx) => ({
  ok: true,
  channels: [...ctx.channels.keys()].map((id) => channelObject(ctx, id)),
  response_metadata: { next_cursor: '' },
});

export const conversationsJoin: ApiHandler = (args, ctx) => {
  const id = str(args.channel);
  return id ? { ok: true, channel: channelObject(ctx, id) } : fail('channel_not_found');
};

/** Socket Mode: the app token exchanges for a WebSocket URL (a local one in tests). */
export const appsConnectionsOpen: ApiHandler = (_args, ctx) => (ctx.socketModeUrl ? { ok: true, url: ctx.socketModeUrl } : fail('not_allowed_token_type'));
