import type { WebClient } from '@slack/web-api';
import type { Logger } from '../log.js';

/**
 * Resolves approver lists (user ids and S… user-group ids) with a one-minute cache.
 * Any lookup failure (plan_upgrade_required on Free plans, rate limits, network) means
 * "not an approver" and is not cached, so it is retried on the next click.
 */
export class ApproverDirectory {
  readonly #cache = new Map<string, { members: Set<string>; at: number }>();
  constructor(
    private readonly client: WebClient,
    private readonly log: Logger,
    private readonly ttlMs = 60_000,
  ) {}

  async isApprover(userId: string, approvers: readonly string[]): Promise<boolean> {
    if (approvers.includes(userId)) return true;
    for (const id of approvers) {
      if (!id.startsWith('S')) continue;
      const members = await this.#members(id);
      if (members?.has(userId)) return true;
    }
    return false;
  }

  async #members(groupId: string): Promise<Set<string> | undefined> {
    const hit = this.#cache.get(groupId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.members;
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
