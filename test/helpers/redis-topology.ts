// Throwaway Redis topologies for tests: a Sentinel over its own master, or a 3-node Cluster. Each
// redis-server runs as our child on free 127.0.0.1 ports, in a temp dir, persisting nothing; stop()
// kills exactly those children and removes the dir. The machine's own Redis is never touched.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './bot.js';

const run = promisify(execFile);

export interface Topology {
  url: string;
  stop: () => Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 })).stdout;
}

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function starter(dir: string) {
  const children: ChildProcess[] = [];
  const start = (name: string, args: string[]) => {
    const cwd = join(dir, name);
    mkdirSync(cwd, { recursive: true });
    const c = spawn('redis-server', args, { cwd, stdio: 'ignore' });
    c.on('error', () => undefined);
    children.push(c);
    return cwd;
  };
  const stop = async () => {
    await Promise.all(children.map((c) => new Promise<void>((r) => {
      if (c.exitCode !== null || c.signalCode !== null) return r();
      c.once('exit', () => r());
      c.kill('SIGKILL');
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  return { start, stop };
}

const base = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** A master on a free port watched by one Sentinel (quorum 1); url is the redis+sentinel:// form. */
export async function startSentinel(master = 'dbopsmaster'): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'dbops-sentinel-'));
  const s = starter(dir);
  try {
    const [mp, sp] = [await freePort(), await freePort()];
    s.start('master', base(mp));
    await until('master up', 5000, async () => (await cli(mp, 'ping')).trim() === 'PONG');
    const conf = join(dir, 'sentinel.conf');
    // Sentinel rewrites its config file, so it must be a file of its own that it may write.
    writeFileSync(conf, [`port ${sp}`, 'bind 127.0.0.1', `sentinel monitor ${master} 127.0.0.1 ${mp} 1`, `sentinel down-after-milliseconds ${master} 5000`, ''].join('\n'));
    s.start('sentinel', [conf, '--sentinel']);
    await until('sentinel knows the master', 5000, async () => (await cli(sp, 'sentinel', 'get-master-addr-by-name', master)).includes(String(mp)));
    return { url: `redis+sentinel://127.0.0.1:${sp}/${master}`, stop: s.stop };
  } catch (err) {
    await s.stop();
    throw err;
  }
}

/** Three masters, no replicas, all 16384 slots assigned; url is the redis+cluster:// form. */
export async function startCluster(): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'dbops-cluster-'));
  const s = starter(dir);
  try {
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const p of ports) s.start(String(p), [...base(p), '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
    for (const p of ports) await until(`node ${p} up`, 5000, async () => (await cli(p, 'ping')).trim() === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 10_000 });
    for (const p of ports) await until(`node ${p} sees the cluster ok`, 10_000, async () => (await cli(p, 'cluster', 'info')).includes('cluster_state:ok'));
    return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, stop: s.stop };
  } catch (err) {
    await s.stop();
    throw err;
  }
}
