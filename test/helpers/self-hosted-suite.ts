// The self-hosted provider's behaviour, run once per backup store kind (directory, S3 on moto).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStore } from '../../src/providers/backup-store.js';
import { ProviderError } from '../../src/providers/errors.js';
import { artifactName, manifestName, parseManifest, type DumpManifest } from '../../src/providers/manifest.js';
import type { Progress } from '../../src/providers/provider.js';
import { SelfHostedProvider } from '../../src/providers/self-hosted.js';
import { snapshotId } from '../../src/providers/snapshot-id.js';
import type { BackupsConfig } from '../../src/providers/types.js';
import { adminQuery, connect, createTestDatabase } from './db.js';

export interface StoreFixture {
  /** backups.store value (a path or s3:// URL). */
  readonly location: string;
  readonly store: BackupStore;
  /** Overwrites the named artifact (a file) with bytes, to simulate damage in the store. */
  damage(name: string, edit: (b: Buffer) => Buffer): Promise<void>;
}

const T0 = new Date('2026-12-01T10:20:00Z');

export function selfHostedSuite(kind: string, setup: () => Promise<{ fixture: StoreFixture; stop: () => Promise<void> }>): void {
  describe(`self-hosted provider, ${kind} store`, () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let fx: StoreFixture;
    let stop: () => Promise<void>;
    const target = `orders-${kind}`;
    const provider = (backups: Partial<BackupsConfig> = {}, now?: () => Date) =>
      new SelfHostedProvider({ target, url: db.url, backups: { store: fx.location, ...backups }, store: fx.store, ...(now ? { now } : {}) });
    const readManifest = async (id: string): Promise<DumpManifest> => parseManifest((await fx.store.readText(manifestName(id)))!)!;

    beforeAll(async () => {
      ({ fixture: fx, stop } = await setup());
      db = await createTestDatabase('dump');
      const c = await connect(db.url);
      try {
        await c.query(`CREATE TABLE orders (id int PRIMARY KEY, note text)`);
        await c.query(`INSERT INTO orders SELECT g, repeat('n', 50) FROM generate_series(1, 5000) g`);
        await c.query(`CREATE SCHEMA "Sales Data"`);
        await c.query(`CREATE TABLE "Sales Data"."Line ""Items""" (id int, qty int)`);
        await c.query(`INSERT INTO "Sales Data"."Line ""Items""" SELECT g, g % 7 FROM generate_series(1, 1234) g`);
        await c.query(`CREATE TABLE events (id int, at date) PARTITION BY RANGE (at)`);
        await c.query(`CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`);
        await c.query(`INSERT INTO events SELECT g, date '2026-03-01' FROM generate_series(1, 300) g`);
        await c.query(`CREATE TABLE empty_table (id int)`);
      } finally {
        await c.end();
      }
    });
    afterAll(async () => {
      await db?.drop();
      await stop?.();
    });

    it('dumps in custom format with progress and a manifest of row counts from the dump snapshot', async () => {
      const progress: Progress[] = [];
      const id = snapshotId(target, 'c1', T0);
      const r = await provider().startSnapshot(id, { onProgress: (p) => progress.push(p) });
      expect(r).toEqual({ checkpoint: { engine: 'self-hosted', snapshotId: id }, alreadyStarted: false });
      const m = await readManifest(id);
      expect(m).toMatchObject({ snapshotId: id, target, database: db.name, format: 'custom', artifact: artifactName(id, 'custom') });
      expect(m.serverVersion).toMatch(/^\d+/);
      expect(m.digest.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.digest.sizeBytes).toBeGreaterThan(1000);
      expect(m.tables.map((t) => [t.schema, t.name, t.rows])).toEqual([
        ['Sales Data', 'Line "Items"', 1234],
        ['public', 'empty_table', 0],
        ['public', 'events_2026', 300],
        ['public', 'orders', 5000],
      ]);
      expect(progress[0]?.message).toBe('dumping 4 tables');
      expect(progress.map((p) => p.message)).toContain('dumped 2 of 4 tables');
      expect(progress.at(-1)).toEqual({ percent: 100, message: 'dumped 4 of 4 tables' });
      const poll = await provider().pollSnapshot(r.checkpoint);
      expect(poll.done).toBe(true);
      expect(poll.snapshot).toMatchObject({ id, type: 'manual', status: 'available', sizeBytes: m.digest.sizeBytes });
    });

    it('a resumed run with the same id finds the finished dump and does not dump again', async () => {
      const id = snapshotId(target, 'c1', T0);
      const before = await fx.store.readText(manifestName(id));
      const progress: Progress[] = [];
      const r = await provider().startSnapshot(id, { onProgress: (p) => progress.push(p) });
      expect(r.alreadyStarted).toBe(true);
      expect(progress).toEqual([]);
      expect(await fx.store.readText(manifestName(id))).toBe(before);
    });

    it('row counts are those of the dump snapshot even while rows are being written', async () => {
      const writer = await connect(db.url);
      let stop = false;
      const writing = (async () => {
        let i = 100_000;
        while (!stop) await writer.query('INSERT INTO orders VALUES ($1, $2)', [i++, 'during dump']);
      })();
      try {
        const id = snapshotId(target, 'concurrent', T0);
        await provider().startSnapshot(id);
        const report = await provider().verify(id);
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
      } finally {
        stop = true;
        await writing;
        await writer.query('DELETE FROM orders WHERE id >= 100000');
        await writer.end();
      }
    });

    it('dumps in directory format with -j 2 and verifies it (restore with -j 2)', async () => {
      const id = snapshotId(target, 'd1', T0);
      await provider({ jobs: 2 }).startSnapshot(id);
      const m = await readManifest(id);
      expect(m.format).toBe('directory');
      expect(m.jobs).toBe(2);
      expect(m.digest.files?.map((f) => f.name)).toContain('toc.dat');
      const report = await provider({ jobs: 2 }).verify(id);
      expect(report).toMatchObject({ snapshotId: id, ok: true, problems: [] });
      expect(report.tables).toContainEqual({ table: 'public.orders', expectedRows: 5000, restoredRows: 5000 });
    });

    it('verify of the newest dump passes and drops its scratch database', async () => {
      const report = await provider().verify();
      expect(report.ok).toBe(true);
      expect(report.tables).toHaveLength(4);
      expect(report.scratch).toMatch(/^dbops_verify_/);
      const left = await adminQuery('SELECT 1 FROM pg_database WHERE datname = $1', [report.scratch]);
      expect(left.rowCount).toBe(0);
    });

    it('lists dumps newest first and reports the window of kept dumps', async () => {
      const list = await provider().listSnapshots();
      expect(list.map((s) => s.id)).toEqual([snapshotId(target, 'd1', T0), snapshotId(target, 'concurrent', T0), snapshotId(target, 'c1', T0)]);
      expect(await provider().listSnapshots({ type: 'automated' })).toEqual([]);
      expect(await provider().listSnapshots({ limit: 1 })).toHaveLength(1);
      const w = await provider({ keep: 5, keepDays: 14 }).restorableWindow();
      expect(w).toMatchObject({ granularity: 'snapshots', keep: 5, retentionDays: 14 });
      expect(w.earliest!.getTime()).toBeLessThanOrEqual(w.latest!.getTime());
    });

    it('a truncated dump fails verify with a clear report, and no scratch database is made', async () => {
      const id = snapshotId(target, 'trunc', T0);
      await provider().startSnapshot(id);
      await fx.damage(artifactName(id, 'custom'), (b) => b.subarray(0, Math.floor(b.length / 2)));
      const report = await provider().verify(id);
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toMatch(new RegExp(`^The dump ${id}\\.dump is truncated: \\d+ of \\d+ bytes`));
      expect(report.problems[1]).toMatch(/Not restored/);
      expect(report.scratch).toBeUndefined();
    });

    it('a corrupted dump fails verify', async () => {
      const id = snapshotId(target, 'corrupt', T0);
      await provider().startSnapshot(id);
      await fx.damage(artifactName(id, 'custom'), (b) => {
        const c = Buffer.from(b);
        c[Math.floor(c.length / 2)] ^= 0xff;
        return c;
      });
      const report = await provider().verify(id);
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toBe(`The dump ${id}.dump is corrupted: its sha256 (or size) differs from the manifest's.`);
    });

    it('a manifest that disagrees with the restored data fails verify, naming the table, and the scratch database is dropped', async () => {
      const id = snapshotId(target, 'mismatch', T0);
      await provider().startSnapshot(id);
      const m = await readManifest(id);
      const edited = { ...m, tables: m.tables.map((t) => (t.name === 'orders' ? { ...t, rows: t.rows + 1 } : t)) };
      await fx.store.writeText(manifestName(id), JSON.stringify(edited));
      const report = await provider().verify(id);
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual(['public.orders: 5000 rows restored, the manifest says 5001.']);
      expect((await adminQuery('SELECT 1 FROM pg_database WHERE datname = $1', [report.scratch])).rowCount).toBe(0);
    });

    it('retention: keep N removes the oldest dumps (manifest and artifact); keepDays removes old ones but never the newest', async () => {
      const before = (await provider().listSnapshots()).map((s) => s.id);
      expect(before.length).toBeGreaterThanOrEqual(6);
      const id = snapshotId(target, 'keep', T0);
      await provider({ keep: 2 }).startSnapshot(id); // prunes after a successful dump
      const after = (await provider().listSnapshots()).map((s) => s.id);
      expect(after).toEqual([id, before[0]]);
      const gone = before.at(-1)!;
      expect(await fx.store.readText(manifestName(gone))).toBeUndefined();
      expect((await fx.store.names('.dump')).filter((n) => n.startsWith(gone))).toEqual([]);
      // A clock 30 days ahead with keepDays 7: everything is old, but the newest stays.
      const r = await provider({ keepDays: 7 }, () => new Date(Date.now() + 30 * 86_400_000)).prune();
      expect(r).toEqual({ removed: [before[0]], kept: [id] });
      expect((await provider().listSnapshots()).map((s) => s.id)).toEqual([id]);
    });

    it('verify of an unknown dump is ProviderError not_found with what to do', async () => {
      const err = (await provider().verify('dbops-nope-1').catch((e: unknown) => e)) as ProviderError;
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.reason).toBe('not_found');
      expect(err.userMessage).toContain('/db snapshots');
    });
  });
}
