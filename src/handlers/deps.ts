import type { WebClient } from '@slack/web-api';
import type { ApprovalDeps } from '../approvals/service.js';
import type { RequestDeps } from '../jobs/request.js';

/** Everything the Slack doors need; built in bot.ts. */
export interface HandlerDeps extends RequestDeps, ApprovalDeps {
  /** Bolt's client: interactive calls (views.open within the 3 s trigger window) never wait behind progress. */
  client: WebClient;
}
