import { ENGINE_CAPABILITIES } from './capabilities.js';
import type { BackupStore } from './backup-store.js';
import { dumpToStore } from './dump.js';
import { verifyDump } from './dump-verify.js';
import { ProviderError } from './errors.js';
import { selectSnapshots } from './list.js';
import { manifestName, MANIFEST_SUFFIX, parseManifest, type DumpManifest } from './manifest.js';
import type { CallOptions, Capability, ListOptions, PollResult, Provider, PruneResult, RestorableWindow, RestoreCheck, RestoreRequest, RestoreResult, Snapshot, SnapshotCheckpoint, StartResult, VerifyReport } from './provider.js';
import { checkDumpRestore, restoreDump, type SelfHostedRestoreOptions } from './restore-self-hosted.js';
import { dumpsToPrune } from './retention.js';
import type { BackupsConfig } from './types.js';

export interface SelfHostedOptions {
  readonly target: string;
  /** The target's connection string (a secret: never in messages). */
  readonly url: string;
  readonly backups: BackupsConfig;
  readonly store: BackupStore;
  /** For tests: the clock retention compares against. */
  readonly now?: () => Date;
}

function toSnapshot(m: DumpManifest): Snapshot {
  // The dump's content is as of its start (the exported snapshot), so that is its time.
  return { id: m.snapshotId, type: 'manual', status: 'available', sizeBytes: m.digest.sizeBytes, createdAt: new Date(m.startedAt), progressPercent: 100 };
}

/**
 * Self-hosted PostgreSQL: pg_dump into a backup store, with a manifest per dump. The dump is local
 * work, so it runs inside `startSnapshot` (progress through `onProgress`); a resumed run calling it
 * again with the same id finds the manifest and does not dump twice.
 */
export class SelfHostedProvider implements Provider {
  readonly engine = 'self-hosted' as const;
  readonly capabilities: ReadonlySet<Capability> = ENGINE_CAPABILITIES['self-hosted'];
  readonly target: string;
  readonly #o: SelfHostedOptions;

  constructor(o: SelfHostedOptions) {
    this.target = o.target;
    this.#o = o;
  }

  async #manifest(id: string): Promise<DumpManifest | undefined> {
    const text = await this.#store(() => this.#o.store.readText(manifestName(id)));
    return text === undefined ? undefined : parseManifest(text);
  }

  /** This target's finished dumps (the store may be shared by several targets). */
  async #manifests(): Promise<DumpManifest[]> {
    const names = await this.#store(() => this.#o.store.names(MANIFEST_SUFFIX));
    const out: DumpManifest[] = [];
    for (const n of names) {
      const m = await this.#manifest(n.slice(0, -MANIFEST_SUFFIX.length));
      if (m && m.target === this.target) out.push(m);
    }
    return out;
  }

  /** Store failures (disk, permissions, S3) in plain words: the label is a path or bucket, never a secret. */
  async #store<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
      const denied = e.code === 'EACCES' || e.code === 'EPERM' || e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403;
      const missing = e.name === 'NoSuchBucket';
      const msg = denied
        ? `The bot may not read or write the backup store ${this.#o.store.label}. Check its permissions (file mode, or the S3 bucket policy and the bot's AWS credentials).`
        : missing
          ? `The backup store ${this.#o.store.label} does not exist. Create the bucket or fix backups.store of ${this.target}.`
          : `The backup store ${this.#o.store.label} failed (${e.code ?? e.name ?? 'error'}). Check that it is reachable and has space.`;
      throw new ProviderError(this.engine, denied ? 'access_denied' : missing ? 'not_found' : 'unavailable', msg, { cause: err, detail: String((err as Error).message) });
    }
  }

  async startSnapshot(id: string, opts: CallOptions = {}): Promise<StartResult> {
    const checkpoint: SnapshotCheckpoint = { engine: this.engine, snapshotId: id };
    if (await this.#manifest(id)) return { checkpoint, alreadyStarted: true };
    const b = this.#o.backups;
    await this.#store(() =>
      dumpToStore({
      target: this.target,
      url: this.#o.url,
      store: this.#o.store,
      id,
      ...(b.jobs ? { jobs: b.jobs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      }),
    );
    if (b.keep !== undefined || b.keepDays !== undefined) await this.prune();
    return { checkpoint, alreadyStarted: false };
  }

  async pollSnapshot(checkpoint: SnapshotCheckpoint): Promise<PollResult> {
    const m = await this.#manifest(checkpoint.snapshotId);
    if (!m) {
      throw new ProviderError(this.engine, 'not_found', `The dump ${checkpoint.snapshotId} of ${this.target} did not finish (no manifest in ${this.#o.store.label}). Run the snapshot again.`);
    }
    return { done: true, snapshot: toSnapshot(m), progress: { percent: 100, message: 'available' }, checkpoint };
  }

  async listSnapshots(opts: ListOptions = {}): Promise<Snapshot[]> {
    return selectSnapshots((await this.#manifests()).map(toSnapshot), opts);
  }

  async restorableWindow(): Promise<RestorableWindow> {
    const times = (await this.#manifests()).map((m) => Date.parse(m.startedAt)).sort((a, b) => a - b);
    const { keep, keepDays } = this.#o.backups;
    return {
      granularity: 'snapshots',
      ...(times.length ? { earliest: new Date(times[0]!), latest: new Date(times[times.length - 1]!) } : {}),
      ...(keepDays !== undefined ? { retentionDays: keepDays } : {}),
      ...(keep !== undefined ? { keep } : {}),
    };
  }

  async prune(): Promise<PruneResult> {
    const all = await this.#manifests();
    const remove = dumpsToPrune(all, this.#o.backups, (this.#o.now ?? (() => new Date()))());
    for (const m of remove) {
      // Manifest first: from that moment the dump is no longer listed or verified, even if removing the artifact fails.
      await this.#store(() => this.#o.store.remove(manifestName(m.snapshotId)));
      await this.#store(() => this.#o.store.remove(m.artifact));
    }
    const removed = new Set(remove.map((m) => m.snapshotId));
    return { removed: [...removed], kept: all.map((m) => m.snapshotId).filter((id) => !removed.has(id)) };
  }

  async #restoreOptions(id: string): Promise<SelfHostedRestoreOptions> {
    const jobs = this.#o.backups.jobs;
    return { target: this.target, url: this.#o.url, store: this.#o.store, manifest: await this.#manifest(id), ...(jobs ? { jobs } : {}) };
  }

  async checkRestore(req: RestoreRequest, opts: CallOptions & { deep?: boolean } = {}): Promise<RestoreCheck> {
    return checkDumpRestore(await this.#restoreOptions(req.snapshotId), req, opts);
  }

  async restoreSnapshot(req: RestoreRequest, opts: CallOptions = {}): Promise<RestoreResult> {
    return restoreDump(await this.#restoreOptions(req.snapshotId), req, opts);
  }

  async verify(snapshotId?: string, opts: CallOptions = {}): Promise<VerifyReport> {
    const m = snapshotId ? await this.#manifest(snapshotId) : (await this.#manifests()).sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))[0];
    if (!m) {
      throw new ProviderError(
        this.engine,
        'not_found',
        snapshotId ? `No finished dump ${snapshotId} of ${this.target} in ${this.#o.store.label}. See \`/db snapshots ${this.target}\`.` : `${this.target} has no finished dump in ${this.#o.store.label} yet. Take one with \`/db snapshot ${this.target}\`.`,
      );
    }
    const b = this.#o.backups;
    return verifyDump({
      target: this.target,
      store: this.#o.store,
      manifest: m,
      adminUrl: b.scratchUrl ?? this.#o.url,
      ...(b.jobs ? { jobs: b.jobs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  }
}
