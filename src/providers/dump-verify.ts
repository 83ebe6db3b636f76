import { randomBytes } from 'node:crypto';

import { openTargetSession } from '../postgres/session.js';
import type { BackupStore, LocalCopy } from './backup-store.js';
import { digestDirectory, digestFile } from './digest.js';
import { qualified } from './dump.js';
import { tableLabel, type DumpManifest } from './manifest.js';
import { runTool } from './pg-tools.js';
import type { Progress, VerifyReport, VerifyTableResult } from './provider.js';

export interface VerifyOptions {
  readonly target: string;
  readonly store: BackupStore;
  readonly manifest: DumpManifest;
  /** A server where the bot's role may CREATE DATABASE; the scratch database lives there. */
  readonly adminUrl: string;
  readonly jobs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly pgRestore?: string;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** Compares the artifact with its manifest's digest; one plain line per problem. */
export async function checkArtifact(copy: LocalCopy, m: DumpManifest): Promise<string[]> {
  const want = m.digest;
  if (m.format === 'custom') {
    const got = await digestFile(copy.path);
    if (got.sizeBytes < want.sizeBytes) return [`The dump ${m.artifact} is truncated: ${got.sizeBytes} of ${want.sizeBytes} bytes (${mib(got.sizeBytes)} of ${mib(want.sizeBytes)}).`];
    if (got.sizeBytes !== want.sizeBytes || got.sha256 !== want.sha256) return [`The dump ${m.artifact} is corrupted: its sha256 (or size) differs from the manifest's.`];
    return [];
  }
  const got = await digestDirectory(copy.path);
  const problems: string[] = [];
  const byName = new Map((got.files ?? []).map((f) => [f.name, f]));
  for (const f of want.files ?? []) {
    const g = byName.get(f.name);
    if (!g) problems.push(`The dump ${m.artifact} is missing its file ${f.name}.`);
    else if (g.sizeBytes < f.sizeBytes) problems.push(`The dump ${m.artifact} is truncated: ${f.name} has ${g.sizeBytes} of ${f.sizeBytes} bytes.`);
    else if (g.sha256 !== f.sha256 || g.sizeBytes !== f.sizeBytes) problems.push(`The dump ${m.artifact} is corrupted: ${f.name} differs from the manifest's sha256.`);
  }
  if (!problems.length && got.sha256 !== want.sha256) problems.push(`The dump ${m.artifact} has files the manifest does not list.`);
  return problems;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.toString();
}

async function countRestored(url: string, m: DumpManifest): Promise<VerifyTableResult[]> {
  const c = await openTargetSession(url, { statementTimeoutMs: 0 }, 'the scratch database');
  try {
    const out: VerifyTableResult[] = [];
    for (const t of m.tables) {
      try {
        const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qualified(c, t)}`);
        out.push({ table: tableLabel(t), expectedRows: t.rows, restoredRows: Number(r.rows[0]!.n) });
      } catch (err) {
        if ((err as { code?: string }).code !== '42P01') throw err;
        out.push({ table: tableLabel(t), expectedRows: t.rows });
      }
    }
    return out;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Restores a dump into a scratch database and compares per-table row counts with its manifest.
 * The scratch database is dropped whatever happens. Problems are returned, not thrown: a failed
 * verification is a result the user needs to read, not a crash.
 */
export async function verifyDump(o: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const m = o.manifest;
  const problems: string[] = [];
  let tables: VerifyTableResult[] = [];
  let scratch: string | undefined;
  const report = (): VerifyReport => ({ snapshotId: m.snapshotId, ok: problems.length === 0, problems, tables, durationMs: Date.now() - started, ...(scratch ? { scratch } : {}) });

  o.onProgress?.({ message: `checking ${m.artifact}` });
  let copy: LocalCopy;
  try {
    copy = await o.store.fetch(m.artifact, m.format === 'custom' ? 'file' : 'directory');
  } catch {
    problems.push(`The dump ${m.artifact} is missing from ${o.store.label} (its manifest is there).`);
    return report();
  }
  let admin: Awaited<ReturnType<typeof openTargetSession>> | undefined;
  let created = false;
  try {
    problems.push(...(await checkArtifact(copy, m)));
    if (problems.length) {
      problems.push('Not restored: the artifact does not match its manifest. Take a new snapshot; this one cannot be trusted.');
      return report();
    }
    admin = await openTargetSession(o.adminUrl, { statementTimeoutMs: 0 }, 'the verify server');
    scratch = `dbops_verify_${randomBytes(5).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(scratch)}`);
    created = true;
    o.onProgress?.({ message: `restoring ${m.artifact} into a scratch database` });
    const scratchUrl = withDatabase(o.adminUrl, scratch);
    const jobs = o.jobs && o.jobs > 1 ? [`--jobs=${o.jobs}`] : [];
    const run = runTool(o.pgRestore ?? 'pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', ...jobs, copy.path], { url: scratchUrl, ...(o.signal ? { signal: o.signal } : {}) });
    const { code, stderrTail } = await run.done;
    if (code !== 0) {
      // pg_restore's message names objects, not hosts; keep its last error line for the user.
      const last = stderrTail.split('\n').filter((l) => /error/i.test(l)).pop()?.replace(/^pg_restore: (error: )?/, '') ?? `exit code ${code}`;
      problems.push(`pg_restore failed: ${last.slice(0, 300)}`);
    } else {
      o.onProgress?.({ message: `comparing row counts of ${m.tables.length} tables` });
      tables = await countRestored(scratchUrl, m);
      for (const t of tables) {
        if (t.restoredRows === undefined) problems.push(`${t.table}: missing after the restore (${t.expectedRows} rows expected).`);
        else if (t.restoredRows !== t.expectedRows) problems.push(`${t.table}: ${t.restoredRows} rows restored, the manifest says ${t.expectedRows}.`);
      }
    }
  } finally {
    // Dropped also when the comparison or the restore failed; a failed drop is reported, not hidden.
    if (admin && created && scratch) {
      await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(scratch)} WITH (FORCE)`).catch(() => problems.push(`The scratch database ${scratch} could not be dropped; drop it by hand.`));
    }
    await admin?.end().catch(() => undefined);
    await copy.release();
  }
  return report();
}

