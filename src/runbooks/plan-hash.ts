import { createHash } from 'node:crypto';

function canonical(v: unknown): string {
  if (v === null || v === undefined || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/** Stable over key order: an approval binds to exactly these facts. */
export function planHash(input: { runbook: string; target: string; args: unknown; facts: unknown }): string {
  return createHash('sha256').update(canonical(input)).digest('hex');
}
