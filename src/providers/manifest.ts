import type { ArtifactDigest } from './digest.js';

/**
 * The manifest written beside each dump (`<id>.manifest.json`). Row counts come from the dump's own
 * snapshot, so a restore of the artifact must reproduce them exactly.
 */
export interface DumpManifest {
  readonly kind: 'dbops-dump-manifest';
  readonly version: 1;
  readonly snapshotId: string;
  readonly target: string;
  readonly database: string;
  readonly format: 'custom' | 'directory';
  readonly jobs?: number;
  /** Store name of the artifact: `<id>.dump` or `<id>.dir`. */
  readonly artifact: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly serverVersion: string;
  readonly databaseSizeBytes: number;
  readonly digest: ArtifactDigest;
  readonly tables: readonly ManifestTable[];
}

export interface ManifestTable {
  readonly schema: string;
  readonly name: string;
  readonly rows: number;
  readonly sizeBytes: number;
}

export const MANIFEST_SUFFIX = '.manifest.json';
export const manifestName = (id: string): string => `${id}${MANIFEST_SUFFIX}`;
export const artifactName = (id: string, format: DumpManifest['format']): string => `${id}.${format === 'custom' ? 'dump' : 'dir'}`;
export const tableLabel = (t: { schema: string; name: string }): string => `${t.schema}.${t.name}`;

/** Parses a manifest; undefined when it is not one of ours (other files may share the store). */
export function parseManifest(text: string): DumpManifest | undefined {
  try {
    const m = JSON.parse(text) as Partial<DumpManifest>;
    if (m.kind !== 'dbops-dump-manifest' || m.version !== 1 || typeof m.snapshotId !== 'string' || !Array.isArray(m.tables) || !m.digest) return undefined;
    return m as DumpManifest;
  } catch {
    return undefined;
  }
}
