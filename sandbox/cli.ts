// The interactive part of `npm run sandbox`: start, print the URL, stop cleanly on Ctrl-C.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from './sandbox.js';
import { historyNote } from './state-db.js';

export async function runSandboxCli(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logFile = env.SANDBOX_LOG ?? join(tmpdir(), 'dbops-sandbox', 'bot.log');
  const webPort = env.SANDBOX_PORT ? Number(env.SANDBOX_PORT) : 3000;
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    sandbox = await startSandbox({ env, webPort, logFile });
  } catch (err) {
    const e = err as Error & { problems?: string[] };
    process.stderr.write(`sandbox: could not start: ${(e.problems ?? [e.message]).join('; ').split('\n')[0]}\n`);
    process.exit(1);
  }
  process.stdout.write(
    [
      `dbops sandbox: open ${sandbox.url}`,
      `  demo target "demo" = database ${new URL(sandbox.demoUrl).pathname.slice(1)}; try /db help, /db status demo, /db vacuum demo orders`,
      `  state database ${sandbox.history.database}: ${sandbox.history.fresh ? 'started clean (SANDBOX_KEEP_STATE=1 keeps it)' : historyNote(sandbox.history) ?? 'kept, no earlier runs'}`,
      `  bot logs: ${logFile} · Ctrl-C to stop`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = async () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write('stopping…\n');
    await sandbox.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}
