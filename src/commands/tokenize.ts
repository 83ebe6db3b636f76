import { badInput } from '../errors.js';

export const MAX_COMMAND_LENGTH = 2000;

/**
 * Splits `/db` text into words. Double or single quotes group words (`"Mixed Case"` keeps its quotes
 * so a quoted identifier reaches to_regclass as the user typed it, and `--reason "a b"` works).
 * Slack's smart quotes are normalised first because phones insert them.
 */
export function tokenize(input: string): string[] {
  if (input.length > MAX_COMMAND_LENGTH) throw badInput(`That command is ${input.length} characters long; the limit is ${MAX_COMMAND_LENGTH}. Try \`/db help\`.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(input)) throw badInput('That command contains control characters. Type it again as plain text.');
  const text = input.replace(/[\u201c\u201d]/g, '"').replace(/[\u2018\u2019]/g, "'").trim();
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let inWord = false;
  for (const ch of text) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    cur += ch;
    inWord = true;
  }
  if (quote) throw badInput(`A ${quote} quote is not closed. Close it or remove it.`);
  if (inWord) out.push(cur);
  return out;
}

/** Removes one pair of surrounding quotes from a flag value (`--reason "disk full"`). */
export function unquote(word: string): string {
  if (word.length >= 2 && (word[0] === '"' || word[0] === "'") && word.at(-1) === word[0]) return word.slice(1, -1);
  return word;
}
