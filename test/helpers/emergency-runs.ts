// Driving emergency runs over the wire: request, the approval card, approve, the finished run.
import { APPROVER, eventually, INCIDENTS, OPS, REQUESTER, ask, stateQuery, textOf, type TestBot } from './bot.js';

export interface Card {
  runId: string;
  cardTs: string;
  text: string;
}

/** Sends `/db text`; a destructive request answers with an approval card in the incident channel. */
export async function requestCard(tb: TestBot, text: string): Promise<Card> {
  const before = tb.fake.callsOf('chat.postMessage').length;
  await tb.wire.slashCommand({ text, userId: REQUESTER, channelId: OPS });
  const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && textOf(c.args as never).includes('Approval needed')), 15_000, `approval card for ${text}`);
  return { runId: /r_[0-9a-f]{12}/.exec(JSON.stringify(card.args))![0], cardTs: (card.response as { ts: string }).ts, text: textOf(card.args as never) };
}

export async function approve(tb: TestBot, card: Card): Promise<void> {
  await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: card.cardTs, actionId: 'approval_approve', value: card.runId });
}

/** A change request that runs without approval: its run id from the "Queued" reply. */
export async function queued(tb: TestBot, text: string): Promise<string> {
  const reply = await ask(tb, text);
  const id = /`(r_[0-9a-f]+)`/.exec(reply)?.[1];
  if (!id || !reply.includes('Queued')) throw new Error(`expected a queued run for "${text}", got: ${reply}`);
  return id;
}

export interface FinishedRun {
  state: string;
  error: string | null;
  headline: string | null;
  result: { facts?: Array<{ label: string; value: string }>; warning?: string } | null;
}

export async function finished(tb: TestBot, runId: string, timeoutMs = 30_000): Promise<FinishedRun> {
  return eventually(
    async () => {
      const r = (await stateQuery(tb, `SELECT state, error, result->>'headline' AS headline, result, next_step, lease_owner FROM runs WHERE id = $1`, [runId])).rows[0];
      if (r && ['succeeded', 'failed'].includes(r.state)) return { state: r.state, error: r.error, headline: r.headline, result: r.result } as FinishedRun;
      // Said when it times out: where the run stands.
      throw new Error(r ? `state ${r.state}, step ${r.next_step}, lease ${r.lease_owner ?? 'none'}${r.error ? `, error ${r.error}` : ''}` : 'no such run');
    },
    timeoutMs,
    `run ${runId} finished`,
  );
}

/** A result fact's value by label. */
export const factOf = (r: FinishedRun, label: string): string | undefined => r.result?.facts?.find((f) => f.label === label)?.value;
