// Method name → handler. Anything not listed answers unknown_method, as Slack does.
import * as chat from './chat.js';
import type { ApiHandler } from './context.js';
import * as directory from './directory.js';
import * as views from './views.js';

export type { ApiContext, ApiHandler } from './context.js';

export const routes: Readonly<Record<string, ApiHandler>> = {
  'auth.test': directory.authTest,
  'apps.connections.open': directory.appsConnectionsOpen,
  'chat.postMessage': chat.postMessage,
  'chat.postEphemeral': chat.postEphemeral,
  'chat.update': chat.update,
  'chat.delete': chat.remove,
  'chat.getPermalink': chat.getPermalink,
  'views.open': views.open,
  'views.push': views.push,
  'views.update': views.update,
  'users.info': directory.usersInfo,
  'usergroups.users.list': directory.usergroupsUsersList,
  'conversations.info': directory.conversationsInfo,
  'conversations.list': directory.conversationsList,
  'conversations.join': directory.conversationsJoin,
};
