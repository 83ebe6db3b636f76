// Start-up failure says the real reason (the server's words and SQLSTATE), on one line, without
// secrets — issue 10. Spawns the built entry like `npm start` (build first: `npm run build`).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { targetsYaml } from '../helpers/bot.js';

/** `node dist/src/main.js` with only PATH from this environment: no USER, so pg sends no user name. */
function run(env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['dist/src/main.js'], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

let base: Record<string, string>;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'dbops-startup-'));
  const targets = join(dir, 'targets.yaml');
  writeFileSync(targets, targetsYaml({ demo: 'environment: staging\nengine: self-hosted\nurl: postgres://127.0.0.1/x' }));
  base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DBOPS_TARGETS: targets, PORT: '0' };
});

it('a DATABASE_URL without a user on a trust server: the server\'s reason and SQLSTATE, not only "28000", and no password', async () => {
  const r = await run({ ...base, DATABASE_URL: 'postgres://:hunter2-startup@127.0.0.1:5432/dbops_startup_nouser' });
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toBe('dbops: cannot start: DATABASE_URL: cannot connect to the state database dbops_startup_nouser on 127.0.0.1:5432: no PostgreSQL user name specified in startup packet (SQLSTATE 28000)');
  expect(r.stderr).not.toContain('hunter2');
});

it('a server that is not there: the socket error, where, and no credentials', async () => {
  const r = await run({ ...base, DATABASE_URL: 'postgres://dbops:hunter2-startup@127.0.0.1:1/dbops' });
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^dbops: cannot start: DATABASE_URL: cannot connect to the state database dbops on 127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  expect(r.stderr).not.toContain('hunter2');
});

it('a role the server does not know: its message names the role, not the password', async () => {
  const r = await run({ ...base, DATABASE_URL: 'postgres://no_such_role_x:hunter2-startup@127.0.0.1:5432/dbops' });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/cannot connect to the state database dbops on 127\.0\.0\.1:5432: .*no_such_role_x.* \(SQLSTATE 28\w{3}\)/);
  expect(r.stderr).not.toContain('hunter2');
});
