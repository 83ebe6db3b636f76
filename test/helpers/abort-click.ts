// `/db run <id> abort` over the wire: the requester clicks the Confirm button of the newest abort
// offer shown to them (its sealed value), and the report answered through response_url comes back.
import { eventually, OPS, REQUESTER, textOf, type TestBot } from './bot.js';

export async function confirmAbortClick(tb: TestBot, runId: string): Promise<string> {
  const confirm = tb.fake.messagesIn(OPS).filter((m) => m.ephemeralTo === REQUESTER && JSON.stringify(m.blocks).includes('run_abort_confirm') && JSON.stringify(m.blocks).includes(runId)).at(-1)!;
  const sealed = JSON.stringify(confirm.blocks).match(/"value":"([^"]+)"/)![1]!;
  const replies = tb.fake.callsOf('response_url').length;
  await tb.wire.blockActions({ userId: REQUESTER, channelId: OPS, messageTs: confirm.ts, actionId: 'run_abort_confirm', value: sealed });
  return eventually(() => tb.fake.callsOf('response_url').slice(replies).map((c) => textOf(c.args as never)).find((t) => t.includes('aborted') || t.includes('did not finish')), 30_000, 'abort report');
}
