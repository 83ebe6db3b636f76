import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults) collectDefaultMetrics({ register: this.registry, prefix: 'dbops_' });
  }
}
