import { expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, severity, thresholdsFor, thresholdsSchema } from '../../src/postgres/thresholds.js';
import { slotSeverity } from '../../src/runbooks/replication.js';
import type { Slot } from '../../src/postgres/replication.js';

it('defaults follow check_postgres / pganalyze, and a level is inclusive', () => {
  const t = thresholdsFor({ name: 'plain' });
  expect(t).toEqual(DEFAULT_THRESHOLDS);
  expect(severity(89.9, t.connectionsPercent)).toBe('ok');
  expect(severity(90, t.connectionsPercent)).toBe('warn');
  expect(severity(95, t.connectionsPercent)).toBe('critical');
  expect(severity(30 * 60, t.idleInTransactionSeconds)).toBe('critical');
  expect(severity(1_000_000_000, t.xidAge)).toBe('warn');
  expect(severity(1_500_000_000, t.xidAge)).toBe('critical');
  expect(severity(20, t.deadTuplePercent)).toBe('warn');
  expect(severity(99, t.deadTuplePercent)).toBe('warn'); // no critical level by default
  expect(severity(null, t.xidAge)).toBe('ok');
});

it("a target's thresholds override key by key and level by level", () => {
  const t = thresholdsFor({ name: 'strict', thresholds: { xidAge: { warn: 500_000_000 }, deadTuplePercent: { critical: 40 } } } as never);
  expect(t.xidAge).toEqual({ warn: 500_000_000, critical: 1_500_000_000 });
  expect(t.deadTuplePercent).toEqual({ warn: 20, critical: 40 });
  expect(t.connectionsPercent).toEqual(DEFAULT_THRESHOLDS.connectionsPercent);
  expect(severity(45, t.deadTuplePercent)).toBe('critical');
});

it('the schema refuses misspelt keys and warn above critical', () => {
  expect(thresholdsSchema.safeParse({ xidAge: { warn: 1, critical: 2 } }).success).toBe(true);
  expect(thresholdsSchema.safeParse({ xidage: { warn: 1 } }).success).toBe(false);
  expect(thresholdsSchema.safeParse({ xidAge: { warning: 1 } }).success).toBe(false);
  expect(thresholdsSchema.safeParse({ xidAge: { warn: 3, critical: 2 } }).success).toBe(false);
});

it('an inactive slot is flagged by the WAL it holds; a lost or unreserved one whatever its activity', () => {
  const GB = 1024 ** 3;
  const slot = (over: Partial<Slot>): Slot => ({ name: 's', type: 'physical', plugin: null, database: null, active: false, activePid: null, retainedBytes: 0, walStatus: 'reserved', safeWalBytes: null, inactiveSince: null, ...over });
  const t = thresholdsFor({ name: 'x' });
  expect(slotSeverity(slot({ retainedBytes: 0.5 * GB }), t)).toBe('ok');
  expect(slotSeverity(slot({ retainedBytes: 2 * GB }), t)).toBe('warn');
  expect(slotSeverity(slot({ retainedBytes: 20 * GB }), t)).toBe('critical');
  expect(slotSeverity(slot({ retainedBytes: 20 * GB, active: true }), t)).toBe('ok');
  expect(slotSeverity(slot({ active: true, walStatus: 'unreserved' }), t)).toBe('warn');
  expect(slotSeverity(slot({ active: true, walStatus: 'lost' }), t)).toBe('critical');
});
