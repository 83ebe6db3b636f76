/**
 * The database rename swap behind `/db cutover` and `/db rollback`: two renames (A → parked name,
 * B → A) with the target's sessions drained first. Applications' pools reconnect within
 * milliseconds, so new connections to both databases are blocked from before the drain until after
 * the renames, and each database's own connection settings are put back on success and on failure.
 * The bot works from the server's maintenance database: nobody may be connected to a renamed one.
 */
import type pg from 'pg';
import type { Target } from '../config.js';
import { DbopsError } from '../errors.js';
import { signalSessions, type SignalResult } from '../postgres/kill.js';
import {
  blockConnections,
  databaseInfo,
  databaseOf,
  endIdleBotSessions,
  maintenanceDatabase,
  onDatabase,
  renameDatabase,
  restoreConnections,
  sessionsOn,
  setComment,
  waitEmpty,
  type ConnectionSettings,
  type DbSession,
} from '../postgres/rename.js';
import { openTargetSession, BOT_APPLICATION_NAME } from '../postgres/session.js';
import { identityOf } from './session-drift.js';
import type { Drift, Fact } from './runbook.js';

/**
 * One rename as planned. The mark (with the run id, known only when the run executes) is written on
 * the database right before the rename, so a resumed attempt recognises what was done; `final`, when
 * set, replaces it once the whole swap is done (a rollback puts the earlier comments back).
 */
export interface PlannedRename {
  from: string;
  to: string;
  mark: Omit<SwapMark, 'run'>;
  final?: string | null;
  /** The comment `from` had when planned: put back if the swap has to be undone. */
  before: string | null;
}

/** A rename as executed: the mark is the comment. */
export interface Rename extends PlannedRename {
  comment: string;
}

export const withRun = (rs: PlannedRename[], run: string): Rename[] => rs.map((r) => ({ ...r, comment: swapMark({ ...r.mark, run }) }));

/** What an approval of a swap covers: exactly these renames, and these sessions to end. */
export interface SwapFacts {
  renames: PlannedRename[];
  /** Client sessions on the two databases when planned (the kill guard's approved list). */
  sessions: Array<{ pid: number; backendStart: string; database: string; app: string; user: string | null }>;
}

const MARK = 'dbops swap ';

/** A session on the server's maintenance database (renames and drops cannot run from inside the database). */
export function adminSession(target: Target): Promise<pg.Client> {
  const db = maintenanceDatabase(databaseOf(target.url));
  return openTargetSession(onDatabase(target.url, db), { statementTimeoutMs: 30_000, lockTimeoutMs: 5_000 }, `the server of ${target.name}`);
}

export async function withAdmin<T>(target: Target, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await adminSession(target);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Sessions a swap must end, refusing at plan time what it may never touch (protected apps/users). */
export async function captureSwapSessions(c: pg.Client, target: Target, dbs: string[]): Promise<SwapFacts['sessions']> {
  const all = (await sessionsOn(c, dbs)).filter((s) => s.app !== BOT_APPLICATION_NAME);
  const protectedOnes = all.filter((s) => target.protectedApps.includes(s.app) || (s.user !== null && target.protectedUsers.includes(s.user)));
  if (protectedOnes.length) {
    const who = [...new Set(protectedOnes.map((s) => `${s.app || s.user} on ${s.database}`))].slice(0, 5).join(', ');
    throw new DbopsError('conflict', `Protected sessions are connected (${who}): a rename needs the databases empty and dbops never ends protected sessions. Disconnect them first (e.g. PAUSE in pgbouncer), then request again.`);
  }
  const busyBot = (await sessionsOn(c, dbs)).filter((s) => s.app === BOT_APPLICATION_NAME && s.state === 'active');
  if (busyBot.length) throw new DbopsError('conflict', `Another dbops run is working on ${dbs.join(' or ')} right now (${busyBot.length} active bot session(s)). Wait for it to finish, then request again.`);
  return all.map((s) => ({ pid: s.pid, backendStart: s.backendStart, database: s.database, app: s.app, user: s.user }));
}

export const renameLines = (renames: PlannedRename[]): string => renames.map((r, i) => `${i + 1}. ${r.from} → ${r.to}`).join('\n');

export function swapDisplay(f: SwapFacts): Fact[] {
  return [
    { label: 'Renames (in this order)', value: renameLines(f.renames) },
    { label: 'Sessions to end', value: String(f.sessions.length) },
  ];
}

export function sessionDetail(f: SwapFacts): string {
  if (!f.sessions.length) return 'No client sessions on either database right now.';
  const lines = f.sessions.slice(0, 25).map((s) => `${String(s.pid).padStart(7)} ${(s.user ?? '?').slice(0, 14).padEnd(14)} ${(s.app || '-').slice(0, 16).padEnd(16)} ${s.database}`);
  return [`${'pid'.padStart(7)} ${'user'.padEnd(14)} ${'app'.padEnd(16)} database`, ...lines, ...(f.sessions.length > 25 ? [`… and ${f.sessions.length - 25} more`] : [])].join('\n');
}

/** Renames must not move; sessions may (ended ones are fine, new ones will stop the swap: say so). */
export function swapDrift(approved: SwapFacts, current: SwapFacts | null): Drift {
  if (!current) return { ok: false, note: 'the swap cannot be planned any more (the databases changed); request it again' };
  const same = (a: PlannedRename[], b: PlannedRename[]) => a.length === b.length && a.every((r, i) => r.from === b[i]!.from && r.to === b[i]!.to);
  if (!same(approved.renames, current.renames)) return { ok: false, note: 'the renames would differ now; request it again' };
  const was = new Set(approved.sessions.map(identityOf));
  const fresh = current.sessions.filter((s) => !was.has(identityOf(s))).length;
  return fresh ? { ok: true, note: `${fresh} new session(s) connected since the request are not approved: if still there when it runs, the swap stops without renaming` } : { ok: true };
}

export interface SwapOutput {
  renamed: Array<{ from: string; to: string }>;
  /** Renames an earlier attempt had already done. */
  alreadyDone: number;
  signals: SignalResult[];
  botSessionsEnded: number;
  [k: string]: unknown;
}

type Saved = Record<string, ConnectionSettings>;

/**
 * Runs the swap. Resumable: the saved connection settings live in the run's checkpoint (a resumed
 * attempt must not save the blocked ones), and a rename whose destination already carries our
 * comment is skipped. If a later rename fails, the earlier ones are reversed so the target's name
 * never stays missing.
 */
export async function runSwap(
  c: pg.Client,
  f: { renames: Rename[]; sessions: SwapFacts['sessions'] },
  cp: { checkpoint: Readonly<Record<string, unknown>>; saveCheckpoint: (d: Record<string, unknown>) => Promise<void>; progress: (p: { text: string }) => void },
): Promise<SwapOutput> {
  // Our comments name the run and the role, so the destination carrying it means the rename happened.
  const done = async (r: Rename) => (await databaseInfo(c, r.to))?.comment === r.comment;
  // Connection settings of each database as it was before any attempt, keyed by its pre-swap name.
  let saved = cp.checkpoint.connSettings as Saved | undefined;
  const names = [...new Set(f.renames.map((r) => r.from))];
  if (!saved) {
    saved = {};
    for (const n of names) {
      const i = await databaseInfo(c, n);
      if (!i) throw new DbopsError('conflict', `The database ${n} does not exist any more; nothing was renamed.`);
      saved[n] = { allowConnections: i.allowConnections, connectionLimit: i.connectionLimit };
    }
    await cp.saveCheckpoint({ connSettings: saved });
  }
  // Where each database is now (its name moves with the renames done so far).
  const whereNow = new Map(names.map((n) => [n, n]));
  let alreadyDone = 0;
  // After the swap finished, the final comments may have replaced the marks: the checkpoint says so.
  const swapDone = cp.checkpoint.swapDone === true;
  for (const r of f.renames) {
    if (swapDone || (await done(r))) {
      whereNow.set(r.from, r.to);
      alreadyDone++;
    }
  }
  const renamed: Array<{ from: string; to: string }> = [];
  let signals: SignalResult[] = [];
  let botSessionsEnded = 0;
  let completed = false;
  try {
    if (alreadyDone === f.renames.length) return await finish();
    const live = [...whereNow.values()];
    for (const n of live) if (await databaseInfo(c, n)) await blockConnections(c, n);
    cp.progress({ text: `connections to ${live.join(' and ')} blocked; ending ${f.sessions.length} approved session(s)` });
    const present = new Set((await sessionsOn(c, live)).map((s) => identityOf(s)));
    // The kill guard: only approved sessions still matching pid + backend_start; never the bot's own.
    signals = await signalSessions(c, 'terminate', f.sessions.filter((s) => present.has(identityOf(s))), { timeoutMs: 3000 });
    botSessionsEnded = await endIdleBotSessions(c, live);
    const left = await waitEmpty(c, live, 5000);
    if (left.length) {
      const who = left.slice(0, 5).map((s: DbSession) => `pid ${s.pid} (${s.app || s.user || '?'}, ${s.database})`).join(', ');
      throw new DbopsError('conflict', `Sessions not in the approved list are still connected: ${who}${left.length > 5 ? ` and ${left.length - 5} more` : ''}. Nothing was renamed; connections are allowed again. Request the swap again to include them.`);
    }
    for (const r of f.renames) {
      if (whereNow.get(r.from) === r.to) continue;
      cp.progress({ text: `renaming ${r.from} → ${r.to}` });
      const clash = await databaseInfo(c, r.to);
      if (clash) throw new DbopsError('conflict', `A database named ${r.to} already exists; it was left alone.`);
      // Comment first: if the worker dies between the two, the next attempt still recognises the database.
      await setComment(c, r.from, r.comment);
      await renameDatabase(c, r.from, r.to);
      whereNow.set(r.from, r.to);
      renamed.push({ from: r.from, to: r.to });
    }
    await cp.saveCheckpoint({ swapDone: true });
    completed = true;
    return await finish();
  } catch (err) {
    if (completed) throw err;
    // Undo every rename in effect, this attempt's and an earlier one's (last first): a half swap would
    // leave the target's name serving nothing, or the wrong thing.
    for (const r of [...f.renames].reverse()) {
      if (whereNow.get(r.from) !== r.to) continue;
      await renameDatabase(c, r.to, r.from)
        .then(async () => {
          whereNow.set(r.from, r.from);
          await setComment(c, r.from, r.before);
        })
        .catch(() => undefined);
    }
    throw err;
  } finally {
    // Each database gets its own settings back, wherever its name is now.
    for (const [orig, now] of whereNow) {
      if (saved[orig] && (await databaseInfo(c, now).catch(() => undefined))) await restoreConnections(c, now, saved[orig]!).catch(() => undefined);
    }
  }
  async function finish(): Promise<SwapOutput> {
    for (const r of f.renames) if (r.final !== undefined) await setComment(c, r.to, r.final);
    return { renamed, alreadyDone, signals, botSessionsEnded };
  }
}

/** `dbops swap {json}`: what a cutover/rollback wrote on a database, readable by the next one. */
export interface SwapMark {
  run: string;
  role: 'old' | 'live';
  /** The database's name before the swap. */
  was: string;
  /** The restore run whose database went live. */
  restore?: string;
  /** The database's own comment before dbops marked it (put back by a rollback). */
  prior?: string | null;
}

export const swapMark = (m: SwapMark): string => MARK + JSON.stringify(m);
export const SWAP_MARK_PREFIX = MARK;

export function parseSwapMark(comment: string | null | undefined): SwapMark | undefined {
  if (!comment?.startsWith(MARK)) return undefined;
  try {
    const m = JSON.parse(comment.slice(MARK.length)) as Partial<SwapMark>;
    return typeof m.run === 'string' && (m.role === 'old' || m.role === 'live') && typeof m.was === 'string' ? (m as SwapMark) : undefined;
  } catch {
    return undefined;
  }
}
