import type { Message } from './messages.js';

/**
 * Where the HTTP edge leaves, in the listener's context, a way to send the ack's body as JSON text
 * already serialised (sets the response's content-type; Bolt sends a string body as it is). Absent
 * in Socket Mode, where an ack is an envelope's payload object.
 */
export const JSON_ACK = 'dbopsJsonAck';

type Ephemeral = { response_type: 'ephemeral'; text: string; blocks: never };

// Help and targets answers are the same Message objects from request to request: serialised once.
const serialised = new WeakMap<Message, string>();

/** Non-ASCII characters as \u escapes: the body stays a one-byte string, half the size in memory and written without re-encoding. */
const asciiJson = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The body to ack a slash command with an ephemeral answer; `m` must not change afterwards (it is serialised once). */
export function ephemeralAck(context: Record<string, unknown>, m: Message): Ephemeral | string {
  const body: Ephemeral = { response_type: 'ephemeral', text: m.text, blocks: m.blocks as never };
  const asJson = context[JSON_ACK] as (() => void) | undefined;
  if (!asJson) return body;
  let s = serialised.get(m);
  if (s === undefined) serialised.set(m, (s = asciiJson(body)));
  asJson();
  return s;
}
