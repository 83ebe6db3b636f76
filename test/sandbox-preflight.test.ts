// `npm run sandbox` with Redis or Postgres down: the real entry (sandbox/main.ts, transpiled as is)
// runs in a child process and must print exactly one line naming what to start and the command,
// exit non-zero, and print nothing else (no stack trace, no bot start-up).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { START_POSTGRES, START_REDIS } from '../sandbox/preflight.js';
import { ADMIN_URL } from './helpers/db.js';

let dir: string;

beforeAll(() => {
  // main.ts imports only preflight.ts before the check (the rest is loaded after it passes).
  dir = mkdtempSync(join(tmpdir(), 'dbops-preflight-'));
  for (const file of ['main', 'preflight']) {
    const source = readFileSync(join(process.cwd(), 'sandbox', `${file}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(dir, `${file}.js`), outputText);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runEntry(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(dir, 'main.js')], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

const closedPort = 'redis://127.0.0.1:1';
const pgUrl = ADMIN_URL.replace(/\/[^/]*$/, '/dbops_preflight_unused');

describe('sandbox start with a service down', () => {
  it('Redis down: one line with the redis-server command, exit 1, nothing else', async () => {
    const r = await runEntry({ REDIS_URL: closedPort, DATABASE_URL: pgUrl });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Redis is not reachable at 127\.0\.0\.1:1; start it with: /);
    expect(lines[0]).toContain(START_REDIS);
    expect(r.ms).toBeLessThan(5000);
  });

  it('Postgres down: one line with the pg_ctlcluster command', async () => {
    const r = await runEntry({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/dbops' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `PostgreSQL is not reachable at 127.0.0.1:1; start it with: ${START_POSTGRES} (or set DATABASE_URL to a running server)`,
    ]);
  });

  it('both down: still one line, naming both', async () => {
    const r = await runEntry({ REDIS_URL: closedPort, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/dbops' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(START_POSTGRES);
    expect(lines[0]).toContain(START_REDIS);
  });
});
