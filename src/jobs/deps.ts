import type { TargetsConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Registry } from '../runbooks/registry.js';
import type { Notifier } from '../slack/notifier.js';
import type { Pool } from '../store/db.js';

/** What running a run needs; built once in main.ts. */
export interface RunDeps {
  pool: Pool;
  registry: Registry;
  targets: TargetsConfig;
  notifier: Notifier;
  log: Logger;
  metrics: Metrics;
  /** Permalink lookup for cross-links (card ↔ thread); undefined when Slack can't answer. */
  permalink: (channel: string, ts: string) => Promise<string | undefined>;
}
