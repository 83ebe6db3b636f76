import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface FileDigest {
  readonly name: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

export interface ArtifactDigest {
  readonly sizeBytes: number;
  /** Custom format: the file's sha256. Directory format: sha256 of the `sha256sum`-style listing of its files. */
  readonly sha256: string;
  readonly files?: readonly FileDigest[];
}

/**
 * A pass-through that hashes and counts what flows by, so a streamed dump is digested without a
 * second read. `beforeEnd` runs before the stream ends; if it throws, the stream errors instead
 * (the store then discards what it received).
 */
export function digestingStream(beforeEnd?: () => Promise<void>): { stream: Transform; digest: () => ArtifactDigest } {
  const hash: Hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      (beforeEnd ?? (async () => undefined))().then(() => cb(), (err: Error) => cb(err));
    },
  });
  return { stream, digest: () => ({ sizeBytes: size, sha256: hash.digest('hex') }) };
}

export async function digestFile(path: string): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return { sizeBytes: (await stat(path)).size, sha256: hash.digest('hex') };
}

export async function digestDirectory(path: string): Promise<ArtifactDigest> {
  const files: FileDigest[] = [];
  for (const name of (await readdir(path)).sort()) files.push({ name, ...(await digestFile(join(path, name))) });
  return { sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0), sha256: listingHash(files), files };
}

export function listingHash(files: readonly FileDigest[]): string {
  return createHash('sha256')
    .update(files.map((f) => `${f.sha256}  ${f.name}\n`).join(''))
    .digest('hex');
}
