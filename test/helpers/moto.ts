// A private moto_server per test file: RDS and S3 on the wire through the real AWS SDK.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A TCP port free on 127.0.0.1 right now. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function findMoto(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, 'moto_server');
    if (dir && existsSync(p)) return p;
  }
  // pyenv's versions, wherever pyenv keeps them (PYENV_ROOT, default ~/.pyenv).
  const root = join(process.env.PYENV_ROOT || join(homedir(), '.pyenv'), 'versions');
  if (existsSync(root)) {
    for (const v of readdirSync(root)) {
      const p = join(root, v, 'bin', 'moto_server');
      if (existsSync(p)) return p;
    }
  }
  // Never skip: a machine without moto must say so loudly.
  throw new Error('moto_server not found: these tests need moto 5 (`pip install "moto[server]"` into the Python on PATH, or a pyenv version with it).');
}

export interface Moto {
  readonly endpoint: string;
  /** Static credentials moto accepts (any work). */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly region: string;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  const bin = findMoto();
  const port = await freeTcpPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited = false;
  child.on('exit', () => (exited = true));
  const end = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`moto_server exited at start: ${stderr}`);
    try {
      const r = await fetch(`${endpoint}/moto-api/data.json`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    region: 'us-east-1',
    reset: async () => {
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
