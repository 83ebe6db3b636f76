/**
 * How long a waiting step sleeps between looks at a long engine operation. Cloud snapshots take
 * minutes, so 30 s by default; `DBOPS_POLL_INTERVAL_MS` shortens it (tests, impatient operators).
 * Read at each look, so a parked run picks up a changed setting on its next worker.
 */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;

export function pollIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.DBOPS_POLL_INTERVAL_MS;
  const n = v && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  // Below 100 ms a look would mostly be queue overhead; a typo must not hammer the engine's API.
  return Number.isFinite(n) && n >= 100 ? n : DEFAULT_POLL_INTERVAL_MS;
}
