/**
 * "Did you mean …?" for mistyped verbs, targets and flags. Optimal string alignment distance
 * (Levenshtein plus adjacent transpositions), because the usual slip is two swapped keys: `stauts`.
 * Past `max` the answer is only "more than max" (some value above it), found without finishing.
 */
// Three rows (two back for transpositions) instead of the full matrix, reused from call to call:
// this runs on the ack path, once per candidate.
let rows = [new Int32Array(72), new Int32Array(72), new Int32Array(72)] as const;

export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (rows[0].length <= b.length) rows = [new Int32Array(b.length + 1), new Int32Array(b.length + 1), new Int32Array(b.length + 1)];
  // prev2 is first read at i = 2, when it holds row 0; nothing needs clearing.
  let [prev2, prev, row] = rows;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      row[j] = v;
      if (v < rowMin) rowMin = v;
    }
    // Row minima never decrease, so once a whole row is past the limit the distance is too.
    if (rowMin > max) return max + 1;
    const oldest = prev2;
    prev2 = prev;
    prev = row;
    row = oldest;
  }
  return prev[b.length]!;
}

/** Words longer than this are not compared (a pasted paragraph is not a typo, and costs O(n·m)). */
const MAX_COMPARED = 64;

/**
 * The closest candidates to `word` (at most two, ties in the given order), or none when nothing is
 * close: one edit for short words, two from five characters on, so `ru` does not become `runs`.
 */
export function closest(word: string, candidates: Iterable<string>): string[] {
  const w = word.toLowerCase();
  if (!w || w.length > MAX_COMPARED) return [];
  const limit = w.length >= 5 ? 2 : 1;
  let best = Infinity;
  let out: string[] = [];
  for (const c of new Set(candidates)) {
    const dist = editDistance(w, c.toLowerCase(), limit);
    if (dist === 0 || dist > limit) continue;
    if (dist < best) [best, out] = [dist, [c]];
    else if (dist === best) out.push(c);
  }
  return out.slice(0, 2);
}

/** ` Did you mean \`status\`?` (with a leading space), or '' when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>, prefix = ''): string {
  const hits = closest(word, candidates);
  return hits.length ? ` Did you mean ${hits.map((h) => `\`${prefix}${h}\``).join(' or ')}?` : '';
}
