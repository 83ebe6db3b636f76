import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbopsError } from '../../src/errors.js';
import { signalSessions } from '../../src/postgres/kill.js';
import { openTargetSession } from '../../src/postgres/session.js';
import { listSessions } from '../../src/postgres/sessions.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { alivePids, connectAs, createTestRole, endAll, pidOf, waitFor } from './support.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let role: Awaited<ReturnType<typeof createTestRole>>;
let botRole: Awaited<ReturnType<typeof createTestRole>>;
let bot: pg.Client;
const opened: pg.Client[] = [];

const open = async (app: string, user = role.name) => {
  const c = await connectAs(db.url, user, app);
  opened.push(c);
  return c;
};
const approvalsFor = async (app: string) =>
  (await listSessions(bot, { app })).sessions.map((s) => ({ pid: s.pid, backendStart: s.backendStart, queryStart: s.queryStart }));
const gone = async (pids: number[]) => waitFor(async () => (await alivePids(pids)).length === 0, 5_000, `pids ${pids.join(',')} to exit`);
// from the outside, in the same ISO form listSessions uses (listSessions never shows the caller)
const backendStartOf = async (pid: number): Promise<string> =>
  (await adminQuery(`SELECT to_char(backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS bs FROM pg_stat_activity WHERE pid = $1`, [pid])).rows[0].bs;

beforeAll(async () => {
  db = await createTestDatabase('kill');
  role = await createTestRole('kill');
  botRole = await createTestRole('killbot');
  bot = await openTargetSession(db.url);
});

afterAll(async () => {
  await endAll([bot, ...opened]);
  await db?.drop();
  await role?.drop();
  await botRole?.drop();
});

describe('signalSessions terminate', () => {
  it('terminates exactly the approved sessions; bystanders and superusers survive', async () => {
    const victims = [await open('victim'), await open('victim'), await open('victim')];
    const bystanders = [await open('bystander'), await connect(db.url, 'victim') /* superuser */];
    opened.push(bystanders[1]!);
    const victimPids = await Promise.all(victims.map(pidOf));
    const bystanderPids = await Promise.all(bystanders.map(pidOf));

    const approved = await approvalsFor('victim');
    expect(approved.map((a) => a.pid).sort()).toEqual([...victimPids].sort()); // superuser not offered

    const results = await signalSessions(bot, 'terminate', approved);
    expect(results).toEqual(approved.map((a) => ({ pid: a.pid, outcome: 'terminated', confirmed: false })));
    await gone(victimPids);
    expect(await alivePids(bystanderPids)).toEqual([...bystanderPids].sort((a, b) => a - b));
    expect((await bot.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('with timeoutMs (PG14+) waits and confirms the exit', async () => {
    const victims = [await open('confirm'), await open('confirm')];
    const pids = await Promise.all(victims.map(pidOf));
    const results = await signalSessions(bot, 'terminate', await approvalsFor('confirm'), { timeoutMs: 3_000 });
    expect(results.map((r) => [r.outcome, r.confirmed])).toEqual([['terminated', true], ['terminated', true]]);
    expect(await alivePids(pids)).toEqual([]); // no polling needed: the server waited
  });

  it('the wait budget is capped by statement_timeout: the report is never lost, the rest are signalled unawaited', async () => {
    const victims = await Promise.all(Array.from({ length: 8 }, () => open('budget')));
    const pids = await Promise.all(victims.map(pidOf));
    const tight = await openTargetSession(db.url, { statementTimeoutMs: 600 }); // budget = 300 ms
    try {
      const results = await signalSessions(tight, 'terminate', await approvalsFor('budget'), { timeoutMs: 60_000 });
      // terminated, or (a slow exit on a busy machine) honestly reported as not confirmed
      for (const r of results) if (r.outcome !== 'terminated') expect(r).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/not exited/) });
      const confirmed = results.filter((r) => r.confirmed).length;
      expect(confirmed).toBeGreaterThanOrEqual(1);
      expect(confirmed).toBeLessThan(8); // ≈100 ms each: the 300 ms budget runs out first
      await gone(pids);
    } finally {
      await tight.end();
    }
  });

  it('pid reuse guard: a closed approved session is already_gone; a new session with that pid is never touched', async () => {
    const old = [await open('reuse'), await open('reuse')];
    const approved = await approvalsFor('reuse');
    await endAll(old);
    await gone(approved.map((a) => a.pid));
    const fresh = [await open('reuse'), await open('reuse')];
    const freshPids = await Promise.all(fresh.map(pidOf));

    const results = await signalSessions(bot, 'terminate', approved);
    expect(results.map((r) => r.outcome)).toEqual(['already_gone', 'already_gone']);
    expect(results[0]!.reason).toMatch(/pid and backend_start/);

    // Simulate actual reuse: the pid is live, but the approved backend_start belongs to another life.
    const imposters = freshPids.map((pid, i) => ({ pid, backendStart: approved[i]!.backendStart }));
    // …and one microsecond off is still a stranger
    const exact = await backendStartOf(freshPids[0]!);
    const offByOne = exact.replace(/(\d{6})Z$/, (m, us: string) => `${String((Number(us) + 1) % 1_000_000).padStart(6, '0')}Z`);
    const r2 = await signalSessions(bot, 'terminate', [...imposters, { pid: freshPids[0]!, backendStart: offByOne }]);
    expect(r2.map((r) => r.outcome)).toEqual(['already_gone', 'already_gone']); // duplicate pid collapsed
    expect(await alivePids(freshPids)).toEqual([...freshPids].sort((a, b) => a - b));
  });

  it('never signals the calling session or other dbops sessions', async () => {
    const botPid = await pidOf(bot);
    const otherBot = await open('dbops');
    const otherBotPid = await pidOf(otherBot);
    const results = await signalSessions(bot, 'terminate', [
      { pid: botPid, backendStart: await backendStartOf(botPid) },
      { pid: otherBotPid, backendStart: await backendStartOf(otherBotPid) },
    ]);
    expect(results).toEqual([
      { pid: botPid, outcome: 'refused', reason: expect.stringMatching(/own session/) },
      { pid: otherBotPid, outcome: 'refused', reason: expect.stringMatching(/dbops/) },
    ]);
    expect(await alivePids([botPid, otherBotPid])).toHaveLength(2);
    expect((await bot.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('a bot without privilege gets per-session refusals instead of an error aborting the batch', async () => {
    const weakBot = await connectAs(db.url, botRole.name, 'dbops');
    opened.push(weakBot);
    const superSession = await connect(db.url, 'perm');
    opened.push(superSession);
    const own = await open('perm', botRole.name);
    const foreign = await open('perm');
    const targets = await Promise.all([superSession, own, foreign].map(async (c) => {
      const pid = await pidOf(c);
      return { pid, backendStart: await backendStartOf(pid) };
    }));

    // without pg_read_all_stats the bot cannot even verify other roles' sessions
    const blind = await signalSessions(weakBot, 'terminate', [targets[0]!, targets[2]!]);
    expect(blind.map((r) => r.outcome)).toEqual(['refused', 'refused']);
    expect(blind[0]!.reason).toMatch(/pg_monitor/);
    expect(await alivePids([targets[0]!.pid, targets[2]!.pid])).toHaveLength(2);

    await adminQuery(`GRANT pg_monitor TO "${botRole.name}"`);
    const results = await signalSessions(weakBot, 'terminate', targets);
    expect(results.map((r) => r.outcome)).toEqual(['refused', 'terminated', 'refused']);
    expect(results[0]!.reason).toMatch(/superuser/);
    expect(results[2]!.reason).toMatch(/pg_signal_backend/);
    await gone([targets[1]!.pid]);
    expect(await alivePids([targets[0]!.pid, targets[2]!.pid])).toHaveLength(2);

    await adminQuery(`GRANT pg_signal_backend TO "${botRole.name}"`);
    const again = await signalSessions(weakBot, 'terminate', [targets[2]!, targets[0]!]);
    expect(again.map((r) => r.outcome)).toEqual(['terminated', 'refused']);
    await gone([targets[2]!.pid]);
  });

  it('rejects malformed approvals before signalling anything', async () => {
    const victim = await open('malformed');
    const [ok] = await approvalsFor('malformed');
    await expect(signalSessions(bot, 'terminate', [ok!, { pid: 1, backendStart: 'not a time' }])).rejects.toThrow();
    await expect(signalSessions(bot, 'terminate', [ok!, { pid: 1.5, backendStart: ok!.backendStart }])).rejects.toBeInstanceOf(DbopsError);
    expect(await alivePids([await pidOf(victim)])).toHaveLength(1);
    expect(await signalSessions(bot, 'terminate', [])).toEqual([]);
  });
});

describe('signalSessions cancel', () => {
  it('cancels only the approved query (query_start must match, state active); the session survives', async () => {
    const worker = await open('canceller');
    const pid = await pidOf(worker);
    await worker.query('SELECT 1');
    const stale = (await approvalsFor('canceller'))[0]!; // idle now; its query_start is the SELECT 1
    expect(stale.queryStart).not.toBeNull();

    const running = worker.query('SELECT pg_sleep(30)').then(() => 'finished', (e: { code?: string }) => e.code);
    const current = await waitFor(async () => {
      const s = (await listSessions(bot, { app: 'canceller', state: 'active' })).sessions[0];
      return s && { pid: s.pid, backendStart: s.backendStart, queryStart: s.queryStart };
    });

    const r1 = await signalSessions(bot, 'cancel', [stale]);
    expect(r1).toEqual([{ pid, outcome: 'already_gone', reason: expect.stringMatching(/no longer running/) }]);
    expect((await listSessions(bot, { app: 'canceller', state: 'active' })).sessions).toHaveLength(1);

    const r2 = await signalSessions(bot, 'cancel', [current]);
    expect(r2).toEqual([{ pid, outcome: 'cancelled' }]);
    expect(await running).toBe('57014'); // query_canceled
    expect((await worker.query('SELECT 2 AS n')).rows[0].n).toBe(2); // session still usable

    // the same approval again: that query is over → already_gone
    expect((await signalSessions(bot, 'cancel', [current]))[0]!.outcome).toBe('already_gone');
  });

  it('cancel without an approved query_start is refused up front', async () => {
    await expect(signalSessions(bot, 'cancel', [{ pid: 123, backendStart: '2026-01-01T00:00:00.000000Z' }]))
      .rejects.toMatchObject({ code: 'bad_input' });
  });
});
