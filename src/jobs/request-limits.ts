import { formatDuration } from '../duration.js';
import { esc } from '../slack/blocks.js';
import { errorMessage, type Message } from '../slack/messages.js';
import { pendingApprovalsOf } from '../store/pending.js';
import type { Pool } from '../store/db.js';
import type { RateLimiter } from './rate-limit.js';

/** What bounds one user's requests; every door goes through submitRequest, so through these. */
export interface RequestLimits {
  rate?: RateLimiter;
  /** Window of `rate`, for the message. */
  rateWindowMs?: number;
  /** At most this many of a requester's runs wait for approval at once (default 5). */
  maxPendingApprovals?: number;
}

export const DEFAULT_MAX_PENDING_APPROVALS = 5;

/** The "slow down" answer, or undefined when the request may go on. */
export async function rateLimited(limits: RequestLimits | undefined, user: string): Promise<Message | undefined> {
  if (!limits?.rate) return undefined;
  const d = await limits.rate.take(user);
  if (d.ok) return undefined;
  const w = limits.rateWindowMs ?? 60_000;
  const window = w === 60_000 ? 'minute' : formatDuration(w / 1000);
  return errorMessage(`Slow down: ${d.count} requests in the last ${window}, try again in ${d.retryAfterSeconds} s.`);
}

/** The "you already have N waiting" answer, or undefined when another card may be posted. */
export async function tooManyPending(pool: Pool, limits: RequestLimits | undefined, user: string): Promise<Message | undefined> {
  const max = limits?.maxPendingApprovals ?? DEFAULT_MAX_PENDING_APPROVALS;
  const pending = await pendingApprovalsOf(pool, user, max);
  if (pending.length < max) return undefined;
  const list = pending.map((r) => `\`${r.id}\` (${esc(r.runbook)} on ${esc(r.target)})`).join(', ');
  return errorMessage(`You already have ${pending.length} requests waiting for approval: ${list}. Wait for a decision (or let them expire) before asking for more.`);
}

const chains = new Map<string, Promise<unknown>>();

/**
 * Runs fn alone among this process's calls for the same key: the pending-approval check and the
 * insert it guards are not raced by the same user's concurrent requests. (Across web replicas two
 * requests can still both pass the check; the rate limit keeps that window small.)
 */
export function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(key, tail);
  void tail.then(() => chains.get(key) === tail && chains.delete(key));
  return run;
}
