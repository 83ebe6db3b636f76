import { execFile, execFileSync } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './bot.js';

const run = promisify(execFile);

export interface ScratchCluster {
  /** the server's bin directory (initdb, pg_ctl, pg_receivewal…) */
  bindir: string;
  port: number;
  url: (db?: string) => string;
  stop: () => Promise<void>;
}

/**
 * A throwaway PostgreSQL cluster (initdb in a temp dir, a free 127.0.0.1 port, trust auth) for
 * server settings the machine's cluster does not have (shared_preload_libraries, wal_level). Run as
 * the postgres OS user when we are root (initdb refuses root). Returns `{ skipped: reason }` when
 * the server binaries are missing or it does not come up within `withinMs`; `stop()` removes it.
 */
export async function startScratchCluster(settings: Record<string, string>, withinMs = 10_000): Promise<ScratchCluster | { skipped: string }> {
  let bindir: string;
  try {
    bindir = execFileSync('pg_config', ['--bindir'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).toString().trim();
    accessSync(join(bindir, 'initdb'), constants.X_OK);
  } catch {
    return { skipped: 'no initdb (pg_config --bindir)' };
  }
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'dbops-scratch-'));
  const data = join(dir, 'data');
  const deadline = Date.now() + withinMs;
  const left = () => Math.max(1_000, deadline - Date.now());
  const pg = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bindir, cmd), ...args], { timeout: left() }) : run(join(bindir, cmd), args, { timeout: left() }));
  const port = await freePort();
  try {
    if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
    await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    const opts = { port: String(port), listen_addresses: '127.0.0.1', unix_socket_directories: dir, fsync: 'off', max_connections: '30', ...settings };
    const o = Object.entries(opts).map(([k, v]) => `-c ${k}=${v}`).join(' ');
    await pg('pg_ctl', ['-D', data, '-o', o, '-l', join(dir, 'log'), '-w', '-t', String(Math.ceil(left() / 1000)), 'start']);
  } catch (err) {
    await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `scratch cluster did not start within ${withinMs} ms: ${(err as Error).message.split('\n')[0]}` };
  }
  return {
    bindir,
    port,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    stop: async () => {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
