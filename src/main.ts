import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { DbopsError } from './errors.js';
import { createLogger, redact } from './log.js';
import type { Role } from './bot.js';
import type { Tracing } from './tracing.js';

/** Composition root for `npm start`: config → bot (web and/or worker) → signal handling. */
async function main(): Promise<void> {
  let role: Role = 'all';
  try {
    const { values } = parseArgs({ options: { role: { type: 'string', default: 'all' } }, strict: true });
    if (!['all', 'web', 'worker'].includes(values.role!)) throw new Error(`--role must be web, worker or all (got ${values.role})`);
    role = values.role as Role;
  } catch (err) {
    console.error(`dbops: ${(err as Error).message}`);
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) console.error(`dbops: config: ${p}`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger();
  // Through the redacting logger (Node's default would print the raw error, secrets and all), then
  // exit: a crashed worker's runs resume elsewhere, a confused one might not.
  process.on('unhandledRejection', (err) => {
    log.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unhandled rejection; exiting');
    process.exit(1);
  });
  // Tracing first, before http/pg/Bolt are loaded (its instrumentations hook their loading); the
  // SDK is not even imported when no endpoint is set. Everything below is imported after it.
  let tracing: Tracing | undefined;
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) tracing = await (await import('./tracing.js')).startTracing(process.env, role);
  const [{ startBot }, { connectFailure }] = await Promise.all([import('./bot.js'), import('./store/db.js')]);
  let bot;
  try {
    const ms = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
    const lockDurationMs = ms(process.env.DBOPS_LOCK_DURATION_MS);
    const shutdownGraceMs = ms(process.env.DBOPS_SHUTDOWN_GRACE_MS);
    const workerConcurrency = ms(process.env.DBOPS_WORKER_CONCURRENCY);
    bot = await startBot(config, { role, logger: log, ...(lockDurationMs ? { lockDurationMs } : {}), ...(shutdownGraceMs ? { shutdownGraceMs } : {}), ...(workerConcurrency ? { workerConcurrency } : {}), ...(tracing ? { telemetry: tracing.telemetry } : {}) });
  } catch (err) {
    // The real reason on one line (the server's message, not only its SQLSTATE), secrets redacted:
    // this goes to the terminal or the container log, which do not pass through the logger.
    const msg = err instanceof DbopsError ? err.userMessage : connectFailure(err);
    console.error(`dbops: cannot start: ${redact(msg).replace(/\s*\n\s*/g, ' ')}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new commands, finishing running steps');
    bot!.stop().then(
      async () => {
        await tracing?.shutdown();
        process.exit(0);
      },
      (err) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Targets file reload: validated by the start-up loader; a bad file keeps the current targets.
  process.on('SIGHUP', () => {
    if (!stopping) bot!.reloadTargets();
  });
}

void main();
