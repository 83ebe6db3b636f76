import type { WebClient } from '@slack/web-api';
import type { Logger } from '../log.js';
import { slackUserId } from '../slack/metadata.js';

/**
 * Resolves approver lists (user ids and S… user-group ids) with a one-minute cache. The cache is for
 * display; a decision asks with `fresh: true`, so someone removed from a group cannot approve on
 * the strength of a membership looked up a minute ago. Any lookup failure (plan_upgrade_required on Free plans, rate limits, network) means
 * "not an approver" and is not cached, so it is retried on the next click.
 */
export class ApproverDirectory {
  readonly #cache = new Map<string, { members: Set<string>; at: number }>();
  constructor(
    private readonly client: WebClient,
    private readonly log: Logger,
    private readonly ttlMs = 60_000,
  ) {}

  async isApprover(userId: string, approvers: readonly string[], opts: { fresh?: boolean } = {}): Promise<boolean> {
    // Only a person approves: a group id (S…) listed as an approver is a group, not a member of it.
    if (!slackUserId.safeParse(userId).success) return false;
    if (approvers.includes(userId)) return true;
    for (const id of approvers) {
      if (!id.startsWith('S')) continue;
      const members = await this.#members(id, opts.fresh ?? false);
      if (members?.has(userId)) return true;
    }
    return false;
  }

  async #members(groupId: string, fresh: boolean): Promise<Set<string> | undefined> {
    const hit = this.#cache.get(groupId);
    if (!fresh && hit && Date.now() - hit.at < this.ttlMs) return hit.members;
    try {
      const res = await this.client.usergroups.users.list({ usergroup: groupId });
      const members = new Set(res.users ?? []);
      this.#cache.set(groupId, { members, at: Date.now() });
      return members;
    } catch (err) {
      const e = err as { data?: { error?: string }; code?: string };
      this.log.warn({ groupId, error: e.data?.error ?? e.code ?? String(err) }, 'user-group lookup failed; treating as not an approver');
      return undefined;
    }
  }
}
