import type pg from 'pg';
import { openTargetSession } from '../postgres/session.js';
import type { BackupStore } from './backup-store.js';
import { digestDirectory, digestingStream, type ArtifactDigest } from './digest.js';
import { ProviderError } from './errors.js';
import { artifactName, manifestName, type DumpManifest, type ManifestTable } from './manifest.js';
import { classifyToolFailure, runTool } from './pg-tools.js';
import type { Progress } from './provider.js';

export interface DumpOptions {
  readonly target: string;
  readonly url: string;
  readonly store: BackupStore;
  readonly id: string;
  /** Set: directory format with `pg_dump -j jobs`. Unset: custom format, streamed straight into the store. */
  readonly jobs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly pgDump?: string;
}

/** The tables whose data pg_dump writes (ordinary tables and partitions, not extension members). */
const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name, pg_table_size(c.oid)::float8 AS size
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

export function qualified(client: pg.Client, t: { schema: string; name: string }): string {
  return `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`;
}

/** pg_dump --verbose names each table whose data it wrote: custom format "dumping contents of table", -j "finished item … TABLE DATA". */
export function tableDoneCounter(total: number, onProgress?: (p: Progress) => void): (line: string) => void {
  let dumping = 0;
  let finished = 0;
  return (line) => {
    if (/^pg_dump: dumping contents of table /.test(line)) dumping++;
    else if (/^pg_dump: finished item \d+ TABLE DATA /.test(line)) finished++;
    else return;
    const n = Math.min(Math.max(dumping, finished), total);
    onProgress?.({ percent: total ? Math.min(99, Math.floor((n / total) * 100)) : 99, message: `dumped ${n} of ${total} tables` });
  };
}

function dumpFailure(target: string, stderrTail: string, cause?: unknown): ProviderError {
  const kind = classifyToolFailure(stderrTail);
  const msg =
    kind === 'unavailable'
      ? `pg_dump could not connect to ${target}. Check that the database is up and reachable from the bot.`
      : kind === 'access_denied'
        ? `pg_dump was refused by ${target}: the bot's role needs to read every table (e.g. pg_read_all_data) and a valid password.`
        : `pg_dump of ${target} failed; nothing was kept. The pg_dump error is in the bot logs.`;
  return new ProviderError('self-hosted', kind, msg, { cause, detail: `pg_dump failed: ${stderrTail}` });
}

/**
 * Dumps the target into the store and writes its manifest last. Row counts are taken in the
 * transaction whose snapshot pg_dump uses (`pg_export_snapshot` + `--snapshot`), concurrently with the
 * dump, so they describe exactly what the artifact holds.
 */
export async function dumpToStore(o: DumpOptions): Promise<DumpManifest> {
  const started = Date.now();
  const format: DumpManifest['format'] = o.jobs ? 'directory' : 'custom';
  const artifact = artifactName(o.id, format);
  const abort = new AbortController();
  const onAbort = () => abort.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  // Counting rows and dumping share no timeout: both may take as long as the database needs.
  const client = await openTargetSession(o.url, { statementTimeoutMs: 0 }, `target ${o.target}`);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const head = await client.query<{ snap: string; db: string; version: string; size: number }>(
      "SELECT pg_export_snapshot() AS snap, current_database() AS db, current_setting('server_version') AS version, pg_database_size(current_database())::float8 AS size",
    );
    const info = head.rows[0]!;
    const tables = (await client.query<{ schema: string; name: string; size: number }>(TABLES_SQL)).rows;
    o.onProgress?.({ percent: 0, message: `dumping ${tables.length} tables` });

    const counting = (async () => {
      const out: ManifestTable[] = [];
      for (const t of tables) {
        const r = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qualified(client, t)}`);
        out.push({ schema: t.schema, name: t.name, rows: Number(r.rows[0]!.n), sizeBytes: t.size });
      }
      return out;
    })();
    counting.catch(() => abort.abort()); // a failed count makes the manifest impossible: stop the dump

    const onStderrLine = tableDoneCounter(tables.length, o.onProgress);
    const args = ['--verbose', `--snapshot=${info.snap}`];
    let digest: ArtifactDigest;
    if (format === 'custom') {
      const run = runTool(o.pgDump ?? 'pg_dump', ['-Fc', ...args], { url: o.url, signal: abort.signal, stdout: true, onStderrLine });
      // The stream ends only after pg_dump exited 0, so a failed dump never lands in the store as if whole.
      const d = digestingStream(async () => {
        const { code, stderrTail } = await run.done;
        if (code !== 0) throw dumpFailure(o.target, stderrTail);
      });
      await o.store.writeStream(artifact, run.stdout!.pipe(d.stream)).catch(async (err: unknown) => {
        if (err instanceof ProviderError) throw err; // pg_dump failed (from beforeEnd)
        abort.abort(); // otherwise the store failed (disk full, S3 unreachable): pg_dump would block on a full pipe
        const { code, stderrTail } = await run.done;
        if (code !== null && code !== 0) throw dumpFailure(o.target, stderrTail, err);
        throw err;
      });
      digest = d.digest();
    } else {
      const staged = await o.store.stageDirectory(artifact);
      try {
        const run = runTool(o.pgDump ?? 'pg_dump', ['-Fd', `--jobs=${o.jobs}`, ...args, `--file=${staged.path}`], { url: o.url, signal: abort.signal, onStderrLine });
        const { code, stderrTail } = await run.done;
        if (code !== 0) throw dumpFailure(o.target, stderrTail);
        digest = await digestDirectory(staged.path);
        await staged.commit();
      } catch (err) {
        await staged.discard();
        throw err;
      }
    }
    const counted = await counting;
    await client.query('COMMIT');

    const finished = Date.now();
    const manifest: DumpManifest = {
      kind: 'dbops-dump-manifest',
      version: 1,
      snapshotId: o.id,
      target: o.target,
      database: info.db,
      format,
      ...(o.jobs ? { jobs: o.jobs } : {}),
      artifact,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      serverVersion: info.version,
      databaseSizeBytes: info.size,
      digest,
      tables: counted,
    };
    await o.store.writeText(manifestName(o.id), JSON.stringify(manifest, null, 2) + '\n');
    o.onProgress?.({ percent: 100, message: `dumped ${tables.length} of ${tables.length} tables` });
    return manifest;
  } catch (err) {
    if (o.signal?.aborted) throw new ProviderError('self-hosted', 'failed', `The dump of ${o.target} was cancelled; nothing was kept.`, { cause: err });
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
}
