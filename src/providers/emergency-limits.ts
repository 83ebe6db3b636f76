/**
 * The engines' own limits, checked by the bot before any call: moto accepts anything, and a refusal
 * at plan time is better than an API error after approval.
 */
import { RETENTION_RANGE } from './emergency.js';
import type { ProviderEngine } from './types.js';

/** Aurora Serverless v2 (recent engine versions): 0 (auto-pause) or 0.5 … 256 ACU in 0.5 steps; the maximum at least 1. */
export const ACU = { min: 0, floor: 0.5, max: 256, step: 0.5, minOfMax: 1 } as const;

/** One plain line per problem with a Serverless v2 range; empty when it is valid. */
export function scaleProblems(min: number, max: number): string[] {
  const out: string[] = [];
  const onStep = (v: number) => Number.isFinite(v) && Math.abs(v / ACU.step - Math.round(v / ACU.step)) < 1e-9;
  for (const [name, v] of [['--min', min], ['--max', max]] as const) {
    if (!Number.isFinite(v)) out.push(`${name} must be a number of ACUs, like 0.5 or 8`);
    else if (v < ACU.min || v > ACU.max) out.push(`${name} ${v} is outside Aurora Serverless v2's ${ACU.min}–${ACU.max} ACU`);
    else if (v > 0 && v < ACU.floor) out.push(`${name} ${v} is below ${ACU.floor} ACU (0 is allowed only as the minimum, for auto-pause)`);
    else if (!onStep(v)) out.push(`${name} ${v} is not a multiple of ${ACU.step} ACU`);
  }
  if (out.length) return out;
  if (max < ACU.minOfMax) out.push(`--max must be at least ${ACU.minOfMax} ACU`);
  if (min > max) out.push(`--min ${min} is above --max ${max}`);
  return out;
}

/**
 * AWS's documented default max_connections of an Aurora PostgreSQL Serverless v2 instance, by its
 * maximum ACU (Aurora User Guide, "Maximum connections for Aurora Serverless v2"): it follows the
 * memory of the *maximum* capacity, LEAST(DBInstanceClassMemory/9531392, 5000), and is capped at
 * 2,000 when the minimum is 0 or 0.5 ACU. Between the table's points it is interpolated, so the
 * number is approximate; a custom max_connections in the parameter group overrides it, and the
 * parameter is static (a new value applies after the instance restarts).
 */
const DOCUMENTED: ReadonlyArray<readonly [number, number]> = [
  [1, 189],
  [4, 823],
  [8, 1669],
  [16, 3360],
  [32, 5000],
];

export function maxConnectionsEstimate(min: number, max: number): number {
  let n: number;
  const exact = DOCUMENTED.find(([acu]) => acu === max);
  if (exact) n = exact[1];
  else if (max >= 32) n = 5000;
  else {
    // Linear between the neighbouring documented points (~210 per ACU).
    const hi = DOCUMENTED.find(([acu]) => acu > max)!;
    const lo = [...DOCUMENTED].reverse().find(([acu]) => acu < max) ?? ([0, 0] as const);
    n = Math.round(lo[1] + ((hi[1] - lo[1]) * (max - lo[0])) / (hi[0] - lo[0]));
  }
  return min <= 0.5 ? Math.min(n, 2000) : n;
}

/** The problem with a retention value on this engine, or undefined when it is in range. */
export function retentionProblem(engine: ProviderEngine, days: number): string | undefined {
  if (engine === 'self-hosted') return 'self-hosted targets keep dumps by backups.keep / backups.keepDays in the targets file, not by an engine retention setting';
  const r = RETENTION_RANGE[engine];
  if (!Number.isInteger(days) || days < r.min || days > r.max) return `${engine} keeps automated backups ${r.min}–${r.max} days (whole days); ${days} is outside that`;
  return undefined;
}
