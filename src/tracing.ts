import type { Telemetry } from 'bullmq';

/**
 * OpenTelemetry traces, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set. main.ts imports this
 * module dynamically and only then, so an unset endpoint loads no SDK at all (no patching, no cost).
 *
 * What is traced: the HTTP server (every Slack request is a root span), pg (state database and
 * target queries), and BullMQ through bullmq-otel: the queue's `add` injects the active context
 * into the job, the worker continues it, so one trace runs from the Slack request to the run's
 * steps (their queries are children of the job's span).
 *
 * This must run before http, pg and Bolt are loaded: the instrumentations hook `require`, and
 * pg/Bolt are CommonJS packages loaded through it.
 */
export interface Tracing {
  /** Passed to every BullMQ Queue and Worker (src/jobs/queue.ts, worker.ts, maintenance.ts). */
  telemetry: Telemetry;
  /** Flushes pending spans; called on shutdown. */
  shutdown: () => Promise<void>;
}

export async function startTracing(env: NodeJS.ProcessEnv, role: string): Promise<Tracing> {
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { registerInstrumentations }, { HttpInstrumentation }, { PgInstrumentation }, { BullMQOtel }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
      import('bullmq-otel'),
    ]);
  // OTLP/HTTP with JSON bodies; the exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces) and
  // OTEL_EXPORTER_OTLP_HEADERS itself, as every OTel SDK does.
  const exporter = new OTLPTraceExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'dbops', 'service.instance.role': role }),
    // Short delay: a run's spans should reach the collector while someone is looking at the run.
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would drown the traces that matter; outgoing calls to the collector
        // itself must not be traced (they would trace their own export).
        ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)\b/.test(req.url ?? ''),
        ignoreOutgoingRequestHook: (opts) => String(opts.path ?? '').startsWith('/v1/traces'),
      }),
      // Statement text is recorded by pg instrumentation as db.statement (parameters are not); the
      // bot's SQL carries no secrets (values are always parameters).
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  return {
    telemetry: new BullMQOtel({ tracerName: 'dbops' }) as unknown as Telemetry,
    shutdown: () => provider.shutdown().catch(() => undefined),
  };
}
