import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * Running pg_dump / pg_restore without leaking the password: it goes in PGPASSWORD, the URL on the
 * command line (visible in `ps`) has none. LC_ALL=C keeps --verbose output parseable (English).
 */
export function pgToolEnv(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return {
    dbname: u.toString(),
    env: { ...process.env, LC_ALL: 'C', LANG: 'C', PGAPPNAME: 'dbops', ...(password ? { PGPASSWORD: password } : {}) },
  };
}

export interface ToolRun {
  /** stdout when the caller asked to stream it. */
  readonly stdout?: Readable;
  /** Resolves with the exit code and the last stderr lines (for logs and classification). */
  readonly done: Promise<{ code: number | null; stderrTail: string }>;
}

export function runTool(bin: string, args: string[], opts: { url: string; signal?: AbortSignal; stdout?: boolean; onStderrLine?: (line: string) => void }): ToolRun {
  const { dbname, env } = pgToolEnv(opts.url);
  const child = spawn(bin, [...args, `--dbname=${dbname}`], { env, stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'], ...(opts.signal ? { signal: opts.signal } : {}) });
  const tail: string[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      opts.onStderrLine?.(l);
      tail.push(l);
      if (tail.length > 20) tail.shift();
    }
  });
  const done = new Promise<{ code: number | null; stderrTail: string }>((resolve) => {
    child.on('error', (err) => resolve({ code: null, stderrTail: `${tail.join('\n')}\n${err.message}` }));
    child.on('close', (code) => {
      if (partial) tail.push(partial);
      resolve({ code, stderrTail: tail.join('\n') });
    });
  });
  return { ...(child.stdout ? { stdout: child.stdout } : {}), done };
}

/** What a pg tool's failure means for the user (stderr may hold host names: it only goes to `detail`). */
export function classifyToolFailure(stderr: string): 'unavailable' | 'access_denied' | 'failed' {
  if (/could not connect|connection to server|Connection refused|timeout expired|could not translate host/i.test(stderr)) return 'unavailable';
  if (/permission denied|password authentication failed|no pg_hba\.conf entry|must be owner/i.test(stderr)) return 'access_denied';
  return 'failed';
}
