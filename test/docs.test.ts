// The repository stands on its own: nothing points outside it, the README's links resolve, every
// environment variable the bot reads is in .env.example, and the architecture names every layer.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
// Built from parts so this file does not match itself.
const OUTSIDE = ['..' + '/shared', '/' + 'work/', '/' + 'root/'];

describe('the repository stands on its own', () => {
  it('no tracked file refers to a sibling checkout or to paths of one machine', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT }).toString().split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(10);
    const hits: string[] = [];
    for (const f of files) {
      const p = join(ROOT, f);
      if (!existsSync(p) || !statSync(p).isFile() || statSync(p).size > 2_000_000) continue;
      const buf = readFileSync(p);
      if (buf.includes(0)) continue; // binary
      const text = buf.toString('utf8');
      text.split('\n').forEach((line, i) => {
        for (const o of OUTSIDE) if (line.includes(o)) hits.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it("the README's relative links point at files that exist", () => {
    const readme = read('README.md');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|mailto:|#)/.test(l));
    expect(links).toEqual(expect.arrayContaining(['docs/architecture.md', '.env.example']));
    for (const l of links) expect(existsSync(join(ROOT, l.split('#')[0]!)), `README links to ${l}`).toBe(true);
    expect(readme).not.toMatch(/DESIGN\.md/);
  });

  it('.env.example lists every environment variable the bot reads', () => {
    const config = read('src/config.ts');
    const schema = /const envSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(config)?.[1];
    expect(schema, 'envSchema in src/config.ts').toBeTruthy();
    const names = new Set<string>([...schema!.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!));
    for (const m of config.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
    // Read outside config.ts by the process entry and the logger.
    for (const f of ['src/main.ts', 'src/log.ts']) for (const m of read(f).matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
    expect([...names]).toEqual(expect.arrayContaining(['SLACK_BOT_TOKEN', 'DATABASE_URL', 'REDIS_URL', 'DBOPS_TARGETS', 'LOG_LEVEL']));
    const example = read('.env.example');
    const missing = [...names].filter((n) => !new RegExp(`^#?\\s*${n}=`, 'm').test(example));
    expect(missing).toEqual([]);
    // Placeholders only: no token that looks real.
    expect(example).not.toMatch(/xox[bp]-\d/);
  });

  it('.gitignore ignores .env but not .env.example', () => {
    const ignored = (p: string) => {
      try {
        execFileSync('git', ['check-ignore', '-q', '--no-index', p], { cwd: ROOT });
        return true;
      } catch {
        return false;
      }
    };
    expect(ignored('.env')).toBe(true);
    expect(ignored('.env.example')).toBe(false);
  });

  it('docs/architecture.md exists and names every directory of src/', () => {
    const arch = read('docs/architecture.md');
    const dirs = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(dirs.length).toBeGreaterThan(5);
    for (const d of dirs) expect(arch, `src/${d}`).toContain(`src/${d}`);
    for (const endpoint of ['/slack/events', '/healthz', '/readyz', '/metrics']) expect(arch).toContain(endpoint);
  });
});
