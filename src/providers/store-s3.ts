import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectsCommand, GetObjectCommand, paginateListObjectsV2, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BackupStore, LocalCopy, StagedDirectory } from './backup-store.js';

/** `s3://bucket/prefix` → bucket and prefix (no leading/trailing slash). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`not an s3:// URL: ${url}`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/^\/+|\/+$/g, '') };
}

/**
 * An S3 store. Uploads are multipart and streamed through lib-storage (parts of 8 MiB in flight,
 * never the whole dump in memory); an upload that fails is aborted, so a key appears whole or not at all.
 */
export class S3Store implements BackupStore {
  readonly label: string;
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(url: string, client: S3Client) {
    const { bucket, prefix } = parseS3Url(url);
    this.#s3 = client;
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.label = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  }

  #key(name: string): string {
    return this.#prefix ? `${this.#prefix}/${name}` : name;
  }

  async #keys(prefix: string, delimiter?: string): Promise<string[]> {
    const out: string[] = [];
    for await (const page of paginateListObjectsV2({ client: this.#s3 }, { Bucket: this.#bucket, Prefix: prefix, ...(delimiter ? { Delimiter: delimiter } : {}) })) {
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
    }
    return out;
  }

  async names(suffix: string): Promise<string[]> {
    const base = this.#prefix ? `${this.#prefix}/` : '';
    return (await this.#keys(base, '/')).map((k) => k.slice(base.length)).filter((n) => n.endsWith(suffix));
  }

  async readText(name: string): Promise<string | undefined> {
    try {
      const r = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }));
      return await r.Body?.transformToString('utf8');
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async writeText(name: string, text: string): Promise<void> {
    await this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#key(name), Body: text, ContentType: 'application/json' }));
  }

  async writeStream(name: string, body: Readable): Promise<void> {
    await new Upload({ client: this.#s3, params: { Bucket: this.#bucket, Key: this.#key(name), Body: body }, queueSize: 2, partSize: 8 * 1024 * 1024 }).done();
  }

  async stageDirectory(name: string): Promise<StagedDirectory> {
    // pg_dump -Fd needs a local directory; its files are uploaded one by one (streamed) when whole.
    const path = await mkdtemp(join(tmpdir(), 'dbops-dump-'));
    return {
      path,
      commit: async () => {
        try {
          await this.remove(name); // left-overs of an unfinished earlier attempt of the same id
          for (const f of (await readdir(path)).sort()) await this.writeStream(`${name}/${f}`, createReadStream(join(path, f)));
        } finally {
          await rm(path, { recursive: true, force: true });
        }
      },
      discard: () => rm(path, { recursive: true, force: true }),
    };
  }

  async fetch(name: string, kind: 'file' | 'directory'): Promise<LocalCopy> {
    const dir = await mkdtemp(join(tmpdir(), 'dbops-fetch-'));
    const release = () => rm(dir, { recursive: true, force: true });
    try {
      const download = async (key: string, to: string) => {
        const r = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
        await mkdir(dirname(to), { recursive: true });
        await pipeline(r.Body as Readable, createWriteStream(to));
      };
      if (kind === 'file') {
        const to = join(dir, name);
        await download(this.#key(name), to);
        return { path: to, release };
      }
      const base = `${this.#key(name)}/`;
      const keys = await this.#keys(base);
      if (!keys.length) throw Object.assign(new Error(`no objects under ${base}`), { name: 'NoSuchKey' });
      for (const k of keys) await download(k, join(dir, name, k.slice(base.length)));
      return { path: join(dir, name), release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  async remove(name: string): Promise<void> {
    const keys = [...(await this.#keys(this.#key(name), undefined))].filter((k) => k === this.#key(name) || k.startsWith(`${this.#key(name)}/`));
    for (let i = 0; i < keys.length; i += 1000) {
      await this.#s3.send(new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    }
  }
}
