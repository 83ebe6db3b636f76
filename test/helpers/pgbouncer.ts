// A throwaway PgBouncer in transaction mode in front of the machine's PostgreSQL, on a free port,
// as the postgres OS user when we are root (PgBouncer refuses root). stop() kills only that child.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './bot.js';
import { ADMIN_URL } from './db.js';

export const havePgbouncer = (() => {
  try {
    execFileSync('pgbouncer', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
})();

export interface Bouncer {
  /** postgres:// URL of `db` through the bouncer. */
  urlFor: (db: string) => string;
  stop: () => Promise<void>;
}

export async function startPgbouncer(opts: { poolSize?: number } = {}): Promise<Bouncer> {
  const pgUrl = new URL(ADMIN_URL);
  const dir = mkdtempSync(join(tmpdir(), 'dbops-pgbouncer-'));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : {};
  if (asRoot) chownSync(dir, ids.uid!, ids.gid!);
  const conf = join(dir, 'pgbouncer.ini');
  writeFileSync(conf, [
    '[databases]',
    // Every database name, on the machine's server, as its (trust) postgres user.
    `* = host=${pgUrl.hostname} port=${pgUrl.port || 5432} user=${decodeURIComponent(pgUrl.username) || 'postgres'}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    'auth_type = any',
    'pool_mode = transaction',
    // Fewer server connections than the bot's pool has clients: statements of different
    // transactions really do move between server connections.
    `default_pool_size = ${opts.poolSize ?? 3}`,
    'max_client_conn = 200',
    `logfile = ${join(dir, 'log')}`,
    `pidfile = ${join(dir, 'pid')}`,
    '',
  ].join('\n'));
  if (asRoot) chownSync(conf, ids.uid!, ids.gid!);
  const child = spawn('pgbouncer', [conf], { stdio: 'ignore', ...ids });
  child.on('error', () => undefined);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGKILL');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 5000;
  for (;;) {
    const up = await new Promise<boolean>((r) => {
      const s = tcp(port, '127.0.0.1', () => (s.end(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > end || child.exitCode !== null) {
      await stop();
      throw new Error('pgbouncer did not start within 5 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { urlFor: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`, stop };
}
