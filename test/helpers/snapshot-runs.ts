// Driving `/db snapshot` runs over the wire and reading what they left in Slack and in the state DB.
import { ask, eventually, stateQuery, textOf, type TestBot } from './bot.js';

/** Sends `/db <text>` and returns the run id from the "Queued `r_…`" reply (throws with the reply otherwise). */
export async function queueRun(tb: TestBot, text: string): Promise<string> {
  const reply = await ask(tb, text);
  const id = /`(r_[0-9a-f]+)`/.exec(reply)?.[1];
  if (!id || !/Queued/.test(reply)) throw new Error(`expected a queued run for "${text}", got: ${reply}`);
  return id;
}

export async function finishedRun(tb: TestBot, runId: string, timeoutMs = 30_000): Promise<{ state: string; error: string | null; plan: { facts: Record<string, unknown> }; attempts: number }> {
  return eventually(async () => (await stateQuery(tb, `SELECT state, error, plan, attempts FROM runs WHERE id = $1 AND state IN ('succeeded','failed')`, [runId])).rows[0], timeoutMs, `run ${runId} finished`);
}

/** Everything shown in the run's thread: each posted message and every update of one, in order. */
export async function threadTexts(tb: TestBot, runId: string): Promise<string[]> {
  const row = (await stateQuery(tb, `SELECT thread_channel, thread_ts FROM runs WHERE id = $1`, [runId])).rows[0] as { thread_channel: string | null; thread_ts: string | null } | undefined;
  if (!row?.thread_ts) return [];
  const inThread = tb.fake.thread(row.thread_channel!, row.thread_ts).map((m) => m.ts);
  const tsSet = new Set(inThread);
  return tb.fake.calls
    .filter((c) => (c.method === 'chat.postMessage' && c.args.thread_ts === row.thread_ts) || (c.method === 'chat.update' && tsSet.has(String(c.args.ts))))
    .map((c) => textOf(c.args as never));
}

export async function stepRows(tb: TestBot, runId: string): Promise<Array<{ name: string; state: string; attempts: number }>> {
  return (await stateQuery(tb, `SELECT name, state, attempts FROM run_steps WHERE run_id = $1 ORDER BY idx`, [runId])).rows;
}

/** The thread message containing `needle`, once it is there (results are posted just after the state is recorded). */
export async function threadMessage(tb: TestBot, runId: string, needle: string, timeoutMs = 10_000): Promise<string> {
  return eventually(async () => (await threadTexts(tb, runId)).find((t) => t.includes(needle)), timeoutMs, `"${needle}" in the thread of ${runId}`);
}
