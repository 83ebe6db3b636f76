import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupStore, LocalCopy, StagedDirectory } from './backup-store.js';

/** A directory store (a local disk or a shared mount). Writes go to a `.partial-*` name and are renamed when whole. */
export class DirectoryStore implements BackupStore {
  readonly label: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
    this.label = `directory ${root}`;
  }

  #path(name: string): string {
    if (name.includes('/') || name.startsWith('.')) throw new Error(`bad store name ${name}`);
    return join(this.#root, name);
  }

  #partial(name: string): string {
    return this.#path(`${name}.partial-${randomBytes(4).toString('hex')}`);
  }

  async names(suffix: string): Promise<string[]> {
    try {
      return (await readdir(this.#root)).filter((n) => n.endsWith(suffix) && !n.includes('.partial-'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async readText(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.#path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeText(name: string, text: string): Promise<void> {
    await mkdir(this.#root, { recursive: true });
    const tmp = this.#partial(name);
    await writeFile(tmp, text);
    await rename(tmp, this.#path(name));
  }

  async writeStream(name: string, body: Readable): Promise<void> {
    await mkdir(this.#root, { recursive: true });
    const tmp = this.#partial(name);
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, this.#path(name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async stageDirectory(name: string): Promise<StagedDirectory> {
    await mkdir(this.#root, { recursive: true });
    const path = this.#partial(name);
    const final = this.#path(name);
    return {
      path,
      commit: async () => {
        // A left-over from an earlier attempt of the same id (it had no manifest, so it is not a finished dump).
        await rm(final, { recursive: true, force: true });
        await rename(path, final);
      },
      discard: () => rm(path, { recursive: true, force: true }),
    };
  }

  async fetch(name: string): Promise<LocalCopy> {
    return { path: this.#path(name), release: async () => undefined };
  }

  async remove(name: string): Promise<void> {
    await rm(this.#path(name), { recursive: true, force: true });
  }
}
