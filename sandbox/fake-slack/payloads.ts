// The bodies Slack itself sends to an app: slash-command forms and interaction payloads
// (block_actions, view_submission, view_closed), shaped like the real ones field by field.
import { randomBytes } from 'node:crypto';

export interface WorkspaceContext {
  teamId: string;
  teamDomain: string;
  apiAppId: string;
  /** The deprecated verification token Slack still sends. */
  token: string;
}

export interface SlackUserRef {
  id: string;
  name: string;
}

/** Slack's unique-per-action timestamp ("1700000000.123456"). */
export function actionTs(): string {
  return (Date.now() / 1000).toFixed(6);
}

/** A trigger_id shaped like Slack's, for interactions without a fake to register it. */
export function randomTriggerId(): string {
  return `${Date.now()}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
}

function userObject(ws: WorkspaceContext, user: SlackUserRef): Record<string, unknown> {
  return { id: user.id, username: user.name, name: user.name, team_id: ws.teamId };
}

function team(ws: WorkspaceContext): Record<string, unknown> {
  return { id: ws.teamId, domain: ws.teamDomain };
}

export interface SlashCommandFields {
  user: SlackUserRef;
  channel: { id: string; name: string };
  command: string;
  text: string;
  responseUrl: string;
  triggerId: string;
}

/** Form fields of a slash command, in the order Slack sends them. */
export function slashCommandForm(ws: WorkspaceContext, f: SlashCommandFields): Record<string, string> {
  return {
    token: ws.token,
    team_id: ws.teamId,
    team_domain: ws.teamDomain,
    channel_id: f.channel.id,
    channel_name: f.channel.name,
    user_id: f.user.id,
    user_name: f.user.name,
    command: f.command,
    text: f.text,
    api_app_id: ws.apiAppId,
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: f.triggerId,
  };
}

export interface BlockActionsFields {
  user: SlackUserRef;
  triggerId: string;
  action: Record<string, unknown>;
  /** Message container (with channel) or view container. */
  container: Record<string, unknown>;
  channel?: { id: string; name: string };
  message?: Record<string, unknown>;
  view?: Record<string, unknown>;
  responseUrl?: string;
}

export function blockActionsPayload(ws: WorkspaceContext, f: BlockActionsFields): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: userObject(ws, f.user),
    api_app_id: ws.apiAppId,
    token: ws.token,
    container: f.container,
    trigger_id: f.triggerId,
    team: team(ws),
    enterprise: null,
    is_enterprise_install: false,
    ...(f.channel ? { channel: f.channel } : {}),
    ...(f.message ? { message: f.message, state: { values: {} } } : {}),
    ...(f.view ? { view: f.view } : {}),
    ...(f.responseUrl ? { response_url: f.responseUrl } : {}),
    actions: [f.action],
  };
}

export function viewSubmissionPayload(ws: WorkspaceContext, user: SlackUserRef, view: Record<string, unknown>, triggerId: string): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: team(ws),
    user: userObject(ws, user),
    api_app_id: ws.apiAppId,
    token: ws.token,
    trigger_id: triggerId,
    view,
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export function viewClosedPayload(ws: WorkspaceContext, user: SlackUserRef, view: Record<string, unknown>, isCleared: boolean): Record<string, unknown> {
  return {
    type: 'view_closed',
    team: team(ws),
    user: userObject(ws, user),
    api_app_id: ws.apiAppId,
    token: ws.token,
    view,
    is_cleared: isCleared,
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** Finds the interactive element with this action_id (and the block holding it) in a block list. */
export function findElement(blocks: unknown, actionId: string): { blockId?: string; element: Record<string, unknown> } | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const block of blocks as Array<Record<string, unknown>>) {
    const candidates = [
      ...(Array.isArray(block.elements) ? block.elements : []),
      block.accessory,
      block.element,
    ] as Array<Record<string, unknown> | undefined>;
    const element = candidates.find((e) => e && typeof e === 'object' && e.action_id === actionId);
    if (element) return { blockId: typeof block.block_id === 'string' ? block.block_id : undefined, element };
  }
  return undefined;
}
