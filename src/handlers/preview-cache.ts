/**
 * Helpers that keep the kill modal's live preview from becoming a load generator: every keystroke
 * in the modal is a block action, and each preview is a query on the target.
 */

/** Same key within ttlMs → the same (possibly still running) computation. */
export class TtlCache<T> {
  readonly #entries = new Map<string, { at: number; value: Promise<T> }>();
  constructor(private readonly ttlMs: number, private readonly maxEntries = 500) {}

  get(key: string, compute: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    for (const [k, e] of this.#entries) if (now - e.at >= this.ttlMs) this.#entries.delete(k);
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    const value = compute();
    // A failure is not cached: the next keystroke tries again.
    value.catch(() => this.#entries.get(key)?.value === value && this.#entries.delete(key));
    this.#entries.set(key, { at: now, value });
    return value;
  }
}

/** Per key (a view id), only the newest call is current; older ones learn they were superseded. */
export class LatestWins {
  readonly #latest = new Map<string, number>();
  #seq = 0;

  /** Waits debounceMs; returns a check that is true while this call is still the newest for key. */
  async settle(key: string, debounceMs: number): Promise<{ current: () => boolean; done: () => void }> {
    const mine = ++this.#seq;
    this.#latest.set(key, mine);
    await new Promise((r) => setTimeout(r, debounceMs));
    return {
      current: () => this.#latest.get(key) === mine,
      done: () => void (this.#latest.get(key) === mine && this.#latest.delete(key)),
    };
  }
}
