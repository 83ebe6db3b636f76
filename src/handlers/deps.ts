import type { WebClient } from '@slack/web-api';
import type { ApprovalDeps } from '../approvals/service.js';
import type { RequestDeps } from '../jobs/request.js';
import type { MetadataSealer } from '../slack/metadata.js';
import type { AfterAck } from './after-ack.js';

/** Everything the Slack doors need; built in bot.ts. */
export interface HandlerDeps extends RequestDeps, ApprovalDeps {
  /** Interactive client, separate from the notifier's: views.open (3 s trigger window) never waits behind progress. */
  client: WebClient;
  /** Seals and verifies modals' private_metadata; the same key on every replica. */
  metadata: MetadataSealer;
  /** Admits commands' work after their ack a few at a time, so acks go first. */
  afterAck: AfterAck;
}
