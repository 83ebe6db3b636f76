import type { Readable } from 'node:stream';

/** A local path holding an artifact (a dump file or a dump directory) for pg_restore. */
export interface LocalCopy {
  readonly path: string;
  /** Removes the copy if the store made one (S3); a directory store hands out its own path. */
  release(): Promise<void>;
}

/** A local directory pg_dump -Fd writes into; `commit` makes it appear in the store under its name, whole. */
export interface StagedDirectory {
  readonly path: string;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Where dumps and manifests live: a directory or an S3 prefix, shared by every worker. Names are
 * flat (`<id>.dump`, `<id>.dir`, `<id>.manifest.json`); an artifact appears complete or not at all,
 * and its manifest is written after it, so a manifest means a finished dump.
 */
export interface BackupStore {
  /** Safe to show users: `directory /backups/orders` or `s3://bucket/prefix`. */
  readonly label: string;
  /** Top-level names ending with `suffix`. */
  names(suffix: string): Promise<string[]>;
  readText(name: string): Promise<string | undefined>;
  writeText(name: string, text: string): Promise<void>;
  /** Streams `body` into `name` (never buffered whole). */
  writeStream(name: string, body: Readable): Promise<void>;
  stageDirectory(name: string): Promise<StagedDirectory>;
  fetch(name: string, kind: 'file' | 'directory'): Promise<LocalCopy>;
  /** Removes a file or a directory artifact; missing is fine. */
  remove(name: string): Promise<void>;
}
