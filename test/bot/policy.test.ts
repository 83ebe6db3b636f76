import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTargets, type Target } from '../../src/index.js';
import { requiredApprovals, shouldAnnounce } from '../../src/approvals/policy.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { ask as askBot, eventually, INCIDENTS, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

// Policy on the wire: what a request really needs (approval, quorum, announcement) after the file's
// and the target's policy are merged, and for an environment the file does not list.

const FILE_POLICY = [
  'policy:',
  '  environments:',
  '    production: { change: approval }',
  '    staging: { announce: true, approvals: { destructive: 3 } }',
].join('\n');

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;
let sleeper: { c: pg.Client; pid: number; done: Promise<unknown> } | undefined;

beforeAll(async () => {
  target = await createTestDatabase('policy');
  const c = await connect(target.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 100)`);
  await c.end();
  const base = `engine: self-hosted\nurl: ${target.url}`;
  tb = await startTestBot({
    targets: targetsYaml(
      {
        // The issue's case, twice: the target adds only a destructive quorum, at top level and under its environment.
        orders: `environment: production\n${base}\npolicy:\n  approvals: { destructive: 2 }`,
        ordersenv: `environment: production\n${base}\npolicy:\n  environments:\n    production: { approvals: { destructive: 2 } }`,
        unlisted: `environment: qa\n${base}`,
        stage: `environment: staging\n${base}`,
      },
      FILE_POLICY,
    ),
  });
});
afterAll(async () => {
  if (sleeper) {
    await adminQuery('SELECT pg_cancel_backend($1)', [sleeper.pid]);
    await sleeper.done;
    await sleeper.c.end().catch(() => undefined);
  }
  await tb?.stop();
  await target?.drop();
});

// One requester per case: a limit on pending cards per requester must not decide these tests.
const ask = (text: string, user = 'U0POLICY') => askBot(tb, text, user);

/** A session running a long query on the target (what cancel needs), opened once. */
async function busyPid(): Promise<number> {
  if (!sleeper) {
    const c = await connect(target.url, 'sleeper');
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const done = c.query('SELECT pg_sleep(120)').catch(() => undefined);
    sleeper = { c, pid, done };
    await eventually(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [pid])).rowCount, 5000, 'sleeper active');
  }
  return sleeper.pid;
}

/** Sends a request and returns the run it created, as recorded in the state database. */
async function request(text: string, user: string): Promise<{ id: string; state: string; required: number; reply: string }> {
  const reply = await ask(text, user);
  const id = /r_[0-9a-f]{12}/.exec(reply)?.[0];
  if (!id) throw new Error(`no run id in reply to ${text}: ${reply}`);
  const row = (await stateQuery(tb, 'SELECT state, required_approvals FROM runs WHERE id = $1', [id])).rows[0];
  return { id, state: row.state as string, required: row.required_approvals as number, reply };
}

describe('a target policy merges with the file policy per environment and per key', () => {
  for (const name of ['orders', 'ordersenv']) {
    it(`${name}: cancel and vacuum wait for approval; kill needs 2 approvers`, async () => {
      const pid = await busyPid();
      const cancel = await request(`cancel ${name} ${pid} --include-superusers`, `U0C${name.toUpperCase()}`);
      expect(cancel.state).toBe('pending_approval');
      expect(cancel.required).toBe(1);
      expect(cancel.reply).toMatch(/Waiting for approval/);
      const vacuum = await request(`vacuum ${name} orders`, `U0V${name.toUpperCase()}`);
      expect(vacuum.state).toBe('pending_approval');
      expect(vacuum.required).toBe(1);
      const kill = await request(`kill ${name} ${pid} --include-superusers`, `U0K${name.toUpperCase()}`);
      expect(kill.state).toBe('pending_approval');
      expect(kill.required).toBe(2);
      expect(kill.reply).toMatch(/2 approvers/);
      // Nothing was signalled: the query is still running.
      expect((await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [pid])).rowCount).toBe(1);
    });
  }
});

describe('fail closed', () => {
  it('an environment the file does not list gets the strictest rule it defines', async () => {
    const analyze = await request('analyze unlisted', 'U0UNLISTEDA');
    expect(analyze.state).toBe('pending_approval');
    expect(analyze.required).toBe(1);
    const kill = await request(`kill unlisted ${await busyPid()} --include-superusers`, 'U0UNLISTEDK');
    expect(kill.state).toBe('pending_approval');
    // The highest destructive quorum in the file (staging's 3).
    expect(kill.required).toBe(3);
  });
});

describe('announce is policy, not the name "production"', () => {
  it('announce: true on staging announces a change run in the incident channel', async () => {
    const before = tb.fake.callsOf('chat.postMessage').length;
    const run = await request('analyze stage', 'U0STAGE');
    expect(run.state).not.toBe('pending_approval');
    expect(run.reply).toContain(`Progress follows in a thread in <#${INCIDENTS}>`);
    const posted = await eventually(
      () => tb.fake.callsOf('chat.postMessage').slice(before).find((c) => c.args.channel === INCIDENTS && JSON.stringify(c.args).includes(run.id)),
      15_000,
      'announcement in the incident channel',
    );
    expect(textOf(posted.args as never)).toContain('stage');
    await eventually(async () => (await stateQuery(tb, `SELECT 1 FROM runs WHERE id = $1 AND state = 'succeeded'`, [run.id])).rowCount, 20_000, 'analyze done');
  });
});

describe('/db targets shows the effective policy', () => {
  it('per target, in words', async () => {
    const text = await ask('targets');
    const line = (name: string) => {
      const at = text.indexOf(`\`${name}\``);
      expect(at, name).toBeGreaterThanOrEqual(0);
      return text.slice(at, text.indexOf('\n•', at) === -1 ? undefined : text.indexOf('\n•', at));
    };
    expect(line('orders')).toContain('change: approval ×1 · destructive: 2 approvers · announced · expires 30 min');
    expect(line('ordersenv')).toContain('change: approval ×1 · destructive: 2 approvers · announced · expires 30 min');
    expect(line('unlisted')).toContain('change: approval ×1 · destructive: 3 approvers · announced · expires 30 min');
    expect(line('unlisted')).toContain('strictest rule');
    expect(line('stage')).toContain('change: auto · destructive: 3 approvers · announced · expires 30 min');
    expect(text).not.toContain(target.url);
  });
});

describe('loadTargets resolves the effective policy once', () => {
  const load = (yaml: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'dbops-policy-'));
    const path = join(dir, 'targets.yaml');
    writeFileSync(path, yaml);
    return loadTargets(path, { T_URL: 'postgres://127.0.0.1/x' });
  };
  const t = (yaml: string, name = 'a'): Target => load(yaml).targets.get(name)!;
  const body = (env: string, extra = '') => `environment: ${env}\nengine: self-hosted\nurl: \${T_URL}${extra ? `\n${extra}` : ''}`;

  it('no environments in the file: defaults (change auto, destructive 1, only production announced)', () => {
    const cfg = load(targetsYaml({ a: body('staging'), b: body('production') }));
    const a = cfg.targets.get('a')!;
    const b = cfg.targets.get('b')!;
    expect([requiredApprovals(a, 'change'), requiredApprovals(a, 'destructive'), requiredApprovals(a, 'read')]).toEqual([0, 1, 0]);
    expect([shouldAnnounce(a, 'change'), shouldAnnounce(a, 'destructive')]).toEqual([false, true]);
    expect([requiredApprovals(b, 'change'), shouldAnnounce(b, 'change')]).toEqual([0, true]);
    expect(a.effective.basis).toBe('defaults');
  });

  it('per-risk quorums merge: the file sets change, the target sets destructive, both stand', () => {
    const a = t(targetsYaml({ a: body('production', 'policy:\n  approvals: { destructive: 2 }') }, 'policy:\n  change: approval\n  approvals: { change: 2 }'));
    expect([requiredApprovals(a, 'change'), requiredApprovals(a, 'destructive')]).toEqual([2, 2]);
  });

  it('the target wins per key, over the file and over its environment entry', () => {
    const a = t(targetsYaml({ a: body('production', 'policy:\n  change: auto\n  announce: false\n  expiryMinutes: 5') }, 'policy:\n  environments:\n    production: { change: approval, approvals: 2 }'));
    expect([requiredApprovals(a, 'change'), requiredApprovals(a, 'destructive'), shouldAnnounce(a, 'change')]).toEqual([0, 2, false]);
    expect(a.effective.expiryMinutes).toBe(5);
  });

  it('an unlisted environment is never looser than the file top level or any listed environment', () => {
    const a = t(targetsYaml({ a: body('prod-eu') }, 'policy:\n  change: approval\n  approvals: { change: 2 }\n  environments:\n    dev: { change: auto, announce: false }'));
    expect([requiredApprovals(a, 'change'), requiredApprovals(a, 'destructive'), shouldAnnounce(a, 'change')]).toEqual([2, 1, false]);
    const b = t(targetsYaml({ a: body('prod-eu') }, 'policy:\n  environments:\n    dev: { change: auto }\n    prod: { change: approval, approvals: 4, announce: true }'));
    expect([requiredApprovals(b, 'change'), requiredApprovals(b, 'destructive'), shouldAnnounce(b, 'change')]).toEqual([4, 4, true]);
    expect(b.effective.basis).toBe('strictest');
  });

  it('a misspelt policy key stops start-up instead of leaving the rule out', () => {
    expect(() => load(targetsYaml({ a: body('production') }, 'policy:\n  environments:\n    production: { chnage: approval }'))).toThrow(/chnage|Unrecognized/);
  });
});
