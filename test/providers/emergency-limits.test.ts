import { describe, expect, it } from 'vitest';
import { maxConnectionsEstimate, retentionProblem, scaleProblems } from '../../src/providers/emergency-limits.js';

describe('Aurora Serverless v2 limits', () => {
  it('accepts 0 or 0.5–256 in 0.5 steps with max ≥ 1 and min ≤ max', () => {
    expect(scaleProblems(0, 1)).toEqual([]);
    expect(scaleProblems(0.5, 256)).toEqual([]);
    expect(scaleProblems(2.5, 2.5)).toEqual([]);
    expect(scaleProblems(0.25, 4)).toEqual(['--min 0.25 is below 0.5 ACU (0 is allowed only as the minimum, for auto-pause)']);
    expect(scaleProblems(1, 256.5)).toEqual(["--max 256.5 is outside Aurora Serverless v2's 0–256 ACU"]);
    expect(scaleProblems(1.2, 4)).toEqual(['--min 1.2 is not a multiple of 0.5 ACU']);
    expect(scaleProblems(0, 0.5)).toEqual(['--max must be at least 1 ACU']);
    expect(scaleProblems(8, 4)).toEqual(['--min 8 is above --max 4']);
  });
  it('max_connections follows the documented table for the maximum, capped at 2000 with a minimum of 0/0.5', () => {
    expect(maxConnectionsEstimate(1, 1)).toBe(189);
    expect(maxConnectionsEstimate(1, 16)).toBe(3360);
    expect(maxConnectionsEstimate(0.5, 16)).toBe(2000);
    expect(maxConnectionsEstimate(2, 64)).toBe(5000);
    expect(maxConnectionsEstimate(1, 6)).toBe(1246);
  });
});

describe('retention ranges', () => {
  it('RDS 0–35, Aurora 1–35, Azure 7–35, whole days', () => {
    expect(retentionProblem('aws-rds', 0)).toBeUndefined();
    expect(retentionProblem('aws-aurora', 0)).toContain('1–35');
    expect(retentionProblem('azure-flexible', 6)).toContain('7–35');
    expect(retentionProblem('azure-flexible', 35)).toBeUndefined();
    expect(retentionProblem('aws-rds', 36)).toContain('0–35');
    expect(retentionProblem('self-hosted', 7)).toContain('backups.keep');
  });
});
