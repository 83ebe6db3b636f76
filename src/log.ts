import { pino, type Logger } from 'pino';

export type { Logger };

/** Values registered here are replaced by "[redacted]" anywhere they appear in a log line. */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
  // A URL's password is a secret on its own too (it may be logged without the rest of the URL).
  if (value) {
    try {
      const u = new URL(value);
      if (u.password) secrets.add(decodeURIComponent(u.password));
    } catch {
      /* not a URL */
    }
  }
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[redacted]');
  // Any URL credentials, known or not.
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]+):([^@/\s]+)@/gi, '$1$2:[redacted]@');
}

/**
 * pino writes through a redacting stream so no code path (error causes, pg messages, config dumps)
 * can put a registered secret into the logs.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const dest = opts.destination ?? process.stdout;
  const stream = { write: (line: string) => dest.write(redact(line)) };
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { app: 'dbops' },
      redact: { paths: ['*.password', '*.token', '*.url', '*.connectionString', 'headers.authorization'], censor: '[redacted]' },
    },
    stream,
  );
}
