// What a Web API method handler may touch: the fake's stores and its configurable directory.
import type { MessageStore } from '../store.js';
import type { ApiArgs, ApiResult } from '../types.js';
import type { ViewStore } from '../views.js';

export interface ApiContext {
  readonly store: MessageStore;
  readonly viewStore: ViewStore;
  readonly channels: Map<string, string>;
  readonly users: Map<string, Record<string, unknown>>;
  readonly usergroups: Map<string, string[]>;
  readonly usergroupsError: string | undefined;
  /** e.g. http://127.0.0.1:PORT — permalinks point here. */
  readonly baseUrl: string;
  /** WebSocket URL apps.connections.open hands out (Socket Mode tests); unset = not enabled. */
  readonly socketModeUrl?: string | undefined;
}

export type ApiHandler = (args: ApiArgs, ctx: ApiContext) => ApiResult;

export function fail(error: string, messages?: string[]): ApiResult {
  return messages && messages.length > 0 ? { ok: false, error, response_metadata: { messages } } : { ok: false, error };
}
