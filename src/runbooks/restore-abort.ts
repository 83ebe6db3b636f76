/**
 * `/db run <restore-run> abort`: removes what a failed restore created, and only that. The new
 * database is dropped only when it still carries this run's own mark (a cutover re-marks what it
 * swaps in, so a database now serving the target is never touched); the source database, the dump
 * restored from and the pre-restore snapshot are always kept: they are the way back. On the cloud
 * engines the NEW instance/cluster/server is deleted only when it carries this run's tags and no
 * cutover mark (restore-aws.ts / restore-azure.ts refuse anything else).
 */
import { abortRunCopy } from './cloud-copy-delete.js';
import { providerOf } from './providers.js';
import { KIND, type CloudRestoreFacts } from './restore-cloud.js';
import { restoredMark, restoringMark } from '../providers/restore-self-hosted.js';
import { databaseInfo, databaseOf, maintenanceDatabase, onDatabase } from '../postgres/rename.js';
import { openTargetSession } from '../postgres/session.js';
import type { AbortContext, AbortReport } from './runbook.js';

/** The part of a restore's facts an abort needs (cloud engines add theirs beside it). */
export interface RestoreAbortFacts {
  snapshotId: string;
  sourceDatabase: string;
  newDatabase: string;
  cloud?: CloudRestoreFacts;
}

async function abortCloudRestore(f: CloudRestoreFacts, outputs: Readonly<Record<string, unknown>>, ctx: AbortContext): Promise<AbortReport> {
  const k = KIND[f.engine];
  const pre = (outputs['pre-restore-snapshot'] as { snapshotId?: string } | undefined)?.snapshotId;
  const kept = [
    `${ctx.target.name}'s ${k} ${f.source}`,
    ...(f.snapshotId !== undefined ? [`the snapshot ${f.snapshotId}`] : []),
    pre ? `the pre-restore snapshot ${pre}` : 'the pre-restore snapshot (not taken by this run)',
  ];
  if (f.newName === f.source) return { removed: [], kept: [...kept, `the ${k} ${f.newName}: it is not this run's`] };
  const r = await abortRunCopy(providerOf(ctx.target), 'restored', f.newName, `the new ${k} ${f.newName}`, `the ${k} ${f.newName}`, ctx);
  return { removed: r.removed, kept: [...kept, ...r.kept] };
}

export async function abortRestore(f: RestoreAbortFacts, outputs: Readonly<Record<string, unknown>>, ctx: AbortContext): Promise<AbortReport> {
  const t = ctx.target;
  if (f.cloud) return abortCloudRestore(f.cloud, outputs, ctx);
  const source = databaseOf(t.url);
  const pre = (outputs['pre-restore-snapshot'] as { snapshotId?: string } | undefined)?.snapshotId;
  const kept = [
    `the source database ${source} (${t.name})`,
    `the dump ${f.snapshotId}`,
    pre ? `the pre-restore snapshot ${pre}` : 'the pre-restore snapshot (not taken by this run)',
  ];
  const removed: string[] = [];
  const c = await openTargetSession(onDatabase(t.url, maintenanceDatabase(source)), { statementTimeoutMs: 0 }, `the server of ${t.name}`);
  try {
    const db = await databaseInfo(c, f.newDatabase);
    const ours = db && (db.comment === restoringMark(ctx.runId) || db.comment === restoredMark(ctx.runId));
    if (!db) kept.push(`(the new database ${f.newDatabase} does not exist: nothing to remove)`);
    // Belt and braces: the mark already rules the source out, the name check does too.
    else if (!ours || f.newDatabase === source) kept.push(`the database ${f.newDatabase}: it is not this run's (mark: ${db.comment ?? 'none'})`);
    else {
      if (!ctx.dryRun) await c.query(`DROP DATABASE ${c.escapeIdentifier(f.newDatabase)} WITH (FORCE)`);
      removed.push(`the new database ${f.newDatabase}`);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
  return { removed, kept };
}
