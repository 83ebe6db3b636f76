import type pg from 'pg';

/** Told of every query on a target pool's sessions: the pool's connection string, duration, outcome. */
export type QueryObserver = (url: string, seconds: number, ok: boolean) => void;

const observers = new Set<QueryObserver>();

/**
 * Subscribe to target query timings (a bot does this for its /metrics; several bots may run in
 * one process and the target pools are shared). Returns the unsubscribe function.
 */
export function observeTargetQueries(fn: QueryObserver): () => void {
  observers.add(fn);
  return () => void observers.delete(fn);
}

/**
 * Wraps a pooled client's query() once, at connect: promise-style calls (all of dbops' own) are
 * timed; callback and submittable forms pass through untimed.
 */
export function timeQueries(client: pg.PoolClient, url: string): void {
  const inner = client.query.bind(client) as (...a: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const t0 = process.hrtime.bigint();
    const result = inner(...args);
    if (observers.size && result && typeof (result as Promise<unknown>).then === 'function') {
      const done = (ok: boolean) => {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        for (const o of observers) o(url, s, ok);
      };
      (result as Promise<unknown>).then(() => done(true), () => done(false));
    }
    return result;
  };
}
