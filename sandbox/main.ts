// `npm run sandbox`: checks Redis and Postgres first (one line and exit 1 when one is down), then
// starts the demo database, fake Slack, the bot and the page, and prints where to open it.
import { preflight } from './preflight.js';

async function main(): Promise<void> {
  const problem = await preflight(process.env);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
  // Loaded only once the services answer: nothing of the bot runs (or prints) before that.
  const cli = './cli.js';
  const { runSandboxCli } = (await import(cli)) as typeof import('./cli.js');
  await runSandboxCli();
}

void main();
