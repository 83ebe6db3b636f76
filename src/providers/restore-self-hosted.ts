/**
 * Self-hosted restore: a dump from the backup store into a NEW database on the target's server,
 * never over the source. The new database is marked with a COMMENT naming the run that owns it, so
 * a retried step may drop and redo only its own half-done restore, and a cutover can find it.
 */
import type pg from 'pg';
import { openTargetSession } from '../postgres/session.js';
import { canCreateDatabase, databaseInfo, databaseOf, maintenanceDatabase, onDatabase, setComment } from '../postgres/rename.js';
import type { BackupStore } from './backup-store.js';
import { checkArtifact } from './dump-verify.js';
import { ProviderError } from './errors.js';
import { tableLabel, type DumpManifest } from './manifest.js';
import { classifyToolFailure, runTool } from './pg-tools.js';
import type { CallOptions, RestoreCheck, RestoreRequest, RestoreResult, Snapshot } from './provider.js';

/** While pg_restore runs (or after it died): the database is ours and may be dropped and redone. */
export const restoringMark = (owner: string): string => `dbops restore ${owner}`;
/** pg_restore finished: the database is whole; cutover looks for this. */
export const restoredMark = (owner: string): string => `dbops restore ${owner} restored`;

export interface SelfHostedRestoreOptions {
  readonly target: string;
  /** The target's connection string (a secret); the new database lives on the same server. */
  readonly url: string;
  readonly store: BackupStore;
  /** Undefined: no finished dump with that id (no manifest). */
  readonly manifest: DumpManifest | undefined;
  /** pg_restore -j; default 2 (custom format restores in parallel from a file, directory format too). */
  readonly jobs?: number;
  readonly pgRestore?: string;
}

const engine = 'self-hosted' as const;

async function admin(o: SelfHostedRestoreOptions): Promise<pg.Client> {
  // A session on another database of the server: CREATE/DROP DATABASE cannot run inside the one dropped.
  const db = maintenanceDatabase(databaseOf(o.url));
  return openTargetSession(onDatabase(o.url, db), { statementTimeoutMs: 0 }, `the server of ${o.target}`);
}

export function snapshotOf(m: DumpManifest): Snapshot {
  return { id: m.snapshotId, type: 'manual', status: 'available', sizeBytes: m.digest.sizeBytes, createdAt: new Date(m.startedAt), progressPercent: 100 };
}

/** Pre-checks; creates nothing. `deep` also reads the artifact and compares size and sha256 with the manifest. */
export async function checkDumpRestore(o: SelfHostedRestoreOptions, req: RestoreRequest, opts: CallOptions & { deep?: boolean } = {}): Promise<RestoreCheck> {
  const m = o.manifest;
  if (!m || m.target !== o.target) {
    return { problems: [`No finished dump ${req.snapshotId} of ${o.target} in ${o.store.label}. See \`/db snapshots ${o.target}\` for the ones there are.`] };
  }
  const problems: string[] = [];
  if (req.newName === databaseOf(o.url)) problems.push(`${req.newName} is the database ${o.target} serves: a restore goes into a NEW database. Choose another --as.`);
  let c: pg.Client;
  try {
    c = await admin(o);
  } catch (err) {
    return { problems: [...problems, (err as { userMessage?: string }).userMessage ?? `Could not connect to the server of ${o.target}.`], snapshot: snapshotOf(m) };
  }
  try {
    if (!(await canCreateDatabase(c))) problems.push(`The bot's role may not create databases on ${o.target}'s server (it needs CREATEDB).`);
    const existing = await databaseInfo(c, req.newName);
    const ours = existing && (existing.comment === restoringMark(req.owner) || existing.comment === restoredMark(req.owner));
    if (existing && !ours) problems.push(`A database named ${req.newName} already exists on ${o.target}'s server. Choose another name with --as.`);
  } finally {
    await c.end().catch(() => undefined);
  }
  if (opts.deep && !problems.length) {
    opts.onProgress?.({ message: `checking ${m.artifact} against its manifest (size, sha256)` });
    let copy;
    try {
      copy = await o.store.fetch(m.artifact, m.format === 'custom' ? 'file' : 'directory');
    } catch {
      problems.push(`The dump ${m.artifact} is missing from ${o.store.label} (its manifest is there).`);
    }
    if (copy) {
      try {
        problems.push(...(await checkArtifact(copy, m).catch(() => [`The dump ${m.artifact} could not be read from ${o.store.label}.`])));
      } finally {
        await copy.release();
      }
    }
  }
  return { problems, snapshot: snapshotOf(m), expected: m.tables.map((t) => ({ table: tableLabel(t), rows: t.rows })) };
}

/** pg_restore --verbose names each table whose data it loads. */
function restoreCounter(total: number, onProgress?: CallOptions['onProgress']): (line: string) => void {
  let n = 0;
  return (line) => {
    if (!/^pg_restore: processing data for table /.test(line)) return;
    n = Math.min(n + 1, total);
    onProgress?.({ percent: total ? Math.min(99, Math.floor((n / total) * 100)) : 99, message: `restoring: loading table ${n} of ${total}` });
  };
}

/**
 * CREATE DATABASE, mark it, pg_restore into it, mark it restored. Idempotent for one owner: a
 * database marked as ours and not finished is dropped and restored again (deterministically, from
 * scratch: pg_restore cannot continue a half-loaded table); a finished one is left as it is.
 */
export async function restoreDump(o: SelfHostedRestoreOptions, req: RestoreRequest, opts: CallOptions = {}): Promise<RestoreResult> {
  const started = Date.now();
  const m = o.manifest;
  if (!m) throw new ProviderError(engine, 'not_found', `No finished dump ${req.snapshotId} of ${o.target} in ${o.store.label}; nothing was created.`);
  const c = await admin(o);
  const name = req.newName;
  const q = c.escapeIdentifier(name);
  let created = false;
  try {
    const existing = await databaseInfo(c, name);
    if (existing?.comment === restoredMark(req.owner)) return { newName: name, alreadyRestored: true, durationMs: 0 };
    if (existing && existing.comment !== restoringMark(req.owner)) {
      throw new ProviderError(engine, 'already_exists', `A database named ${name} exists on ${o.target}'s server and is not this run's: it was left alone and nothing was restored. Choose another --as.`);
    }
    if (existing) {
      // An earlier attempt of this run died mid-restore: start again from an empty database.
      opts.onProgress?.({ message: `dropping ${name} left half-restored by an earlier attempt` });
      await c.query(`DROP DATABASE ${q} WITH (FORCE)`);
    }
    await c.query(`CREATE DATABASE ${q}`);
    created = true;
    await setComment(c, name, restoringMark(req.owner));
    const copy = await o.store.fetch(m.artifact, m.format === 'custom' ? 'file' : 'directory');
    try {
      const jobs = Math.max(1, o.jobs ?? 2);
      opts.onProgress?.({ percent: 0, message: `pg_restore -j ${jobs} of ${m.artifact} into ${name}` });
      const run = runTool(o.pgRestore ?? 'pg_restore', ['--verbose', '--no-owner', '--exit-on-error', `--jobs=${jobs}`, copy.path], {
        url: onDatabase(o.url, name),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onStderrLine: restoreCounter(m.tables.length, opts.onProgress),
      });
      const { code, stderrTail } = await run.done;
      if (code !== 0) {
        if (opts.signal?.aborted) throw new ProviderError(engine, 'failed', `The restore into ${name} was interrupted; the next attempt starts it again.`);
        const last = stderrTail.split('\n').filter((l) => /error/i.test(l)).pop()?.replace(/^pg_restore: (error: )?/, '') ?? `exit code ${code}`;
        // A failed restore is useless and must never be cut over: drop it rather than leave a trap.
        await c.query(`DROP DATABASE IF EXISTS ${q} WITH (FORCE)`).catch(() => undefined);
        created = false;
        throw new ProviderError(engine, classifyToolFailure(stderrTail), `pg_restore into ${name} failed (${last.slice(0, 300)}); the new database was dropped. ${o.target} was not touched.`, { detail: `pg_restore failed: ${stderrTail}` });
      }
    } finally {
      await copy.release();
    }
    await setComment(c, name, restoredMark(req.owner));
    return { newName: name, alreadyRestored: false, durationMs: Date.now() - started };
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw new ProviderError(engine, 'failed', `The restore into ${name} failed${created ? ' after the database was created (a retry of this run drops and redoes it)' : ''}: ${(err as { userMessage?: string }).userMessage ?? 'see the bot logs'}. ${o.target} was not touched.`, { cause: err });
  } finally {
    await c.end().catch(() => undefined);
  }
}
