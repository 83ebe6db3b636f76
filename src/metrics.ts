import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Label values come from these fixed sets only (never free text, ids or anything secret). */
export const ACK_KINDS = ['command', 'interactive', 'event', 'other'] as const;
export const PROVIDER_ENGINES = ['self-hosted', 'aws-rds', 'aws-aurora', 'azure-flexible'] as const;
export const PROVIDER_ERROR_CODES = ['not_found', 'access_denied', 'wrong_state', 'already_exists', 'throttled', 'unavailable', 'failed', 'unsupported'] as const;
export type AckKind = (typeof ACK_KINDS)[number];

/**
 * Prometheus metrics, one registry per bot instance (tests run several in one process).
 * Served on GET /metrics next to /healthz.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'dbops_requests_total', help: 'Runbook requests by runbook, risk and routing', labelNames: ['runbook', 'risk', 'route'] as const, registers: [this.registry] });
  readonly runsFinished = new Counter({ name: 'dbops_runs_finished_total', help: 'Runs finished, by runbook and outcome', labelNames: ['runbook', 'outcome'] as const, registers: [this.registry] });
  readonly runSeconds = new Histogram({ name: 'dbops_run_duration_seconds', help: 'Run duration from start to finish', labelNames: ['runbook'] as const, buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200], registers: [this.registry] });
  readonly decisions = new Counter({ name: 'dbops_approval_decisions_total', help: 'Approve/deny clicks by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly slackRateLimited = new Counter({ name: 'dbops_slack_rate_limited_total', help: '429 answers from Slack to run output', registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'dbops_queue_jobs', help: 'Run jobs in the queue by state', labelNames: ['state'] as const, registers: [this.registry] });
  /** Slack retries after 3 s without an ack: alert well before that. */
  readonly ackSeconds = new Histogram({ name: 'dbops_ack_duration_seconds', help: 'Slack request received → acknowledged (HTTP response sent), by kind', labelNames: ['kind'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5], registers: [this.registry] });
  readonly approvalWaitSeconds = new Histogram({ name: 'dbops_approval_wait_seconds', help: 'Approval card posted (run requested) → a decision on it, by decision', labelNames: ['decision'] as const, buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200], registers: [this.registry] });
  readonly queueOldestWaitingSeconds = new Gauge({ name: 'dbops_queue_oldest_waiting_seconds', help: 'Age of the oldest job waiting for a worker (0 when none), by queue', labelNames: ['queue'] as const, registers: [this.registry] });
  /** Incremented through countProviderError (src/providers code calls it; see the README). */
  readonly providerErrors = new Counter({ name: 'dbops_provider_errors_total', help: 'Cloud/engine provider API errors by engine and code', labelNames: ['engine', 'code'] as const, registers: [this.registry] });
  /** Commands acked but still waiting for their turn to run (src/handlers/after-ack.ts). */
  readonly commandsWaiting = new Gauge({ name: 'dbops_commands_waiting', help: 'Commands acknowledged and waiting for a slot to do their work in this web process', registers: [this.registry] });
  readonly targetQuerySeconds = new Histogram({ name: 'dbops_target_query_seconds', help: 'Query latency on target databases, by target (configured name) and outcome', labelNames: ['target', 'outcome'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 600], registers: [this.registry] });

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults) collectDefaultMetrics({ register: this.registry, prefix: 'dbops_' });
  }

  /** A decision on an approval card; the wait is measured from the run's creation (the card is posted then). */
  observeApprovalWait(decision: 'approved' | 'recorded' | 'denied', requestedAt: Date): void {
    this.approvalWaitSeconds.observe({ decision }, Math.max(0, (Date.now() - requestedAt.getTime()) / 1000));
  }

  /**
   * The hook for provider code: count a ProviderError (anything with `engine` and `reason`). Values
   * outside the fixed sets are counted as `other`, so a label can never carry free text.
   */
  countProviderError(err: unknown): void {
    const e = err as { engine?: unknown; reason?: unknown } | null;
    if (!e || typeof e !== 'object' || e.engine === undefined) return;
    const pick = <T extends string>(set: readonly T[], v: unknown) => (set.includes(v as T) ? (v as T) : 'other');
    this.providerErrors.inc({ engine: pick(PROVIDER_ENGINES, e.engine), code: pick(PROVIDER_ERROR_CODES, e.reason) });
  }
}
