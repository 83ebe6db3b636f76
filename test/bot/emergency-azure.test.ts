// /db failover and /db retention on azure-flexible, on the wire: Slack → bot → the real Azure SDK
// (PostgreSQLManagementFlexibleServerClient) → an HTTPS ARM fake. Failover is a restart with
// failover (an LRO the run is parked on between looks); retention a PATCH of backupRetentionDays.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setProviderDeps } from '../../src/runbooks/providers.js';
import { armProviderDeps, SUBSCRIPTION } from '../helpers/arm-fake.js';
import { ArmEmergencyFake } from '../helpers/arm-emergency-fake.js';
import { ask, startTestBot, targetsYaml, type TestBot } from '../helpers/bot.js';
import { createTestDatabase } from '../helpers/db.js';
import { approve, factOf, finished, queued, requestCard } from '../helpers/emergency-runs.js';
import { threadMessage } from '../helpers/snapshot-runs.js';

let arm: ArmEmergencyFake;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const savedPoll = process.env.DBOPS_POLL_INTERVAL_MS;
const posts = () => arm.requests.filter((r) => r.method === 'POST');
const patches = () => arm.requests.filter((r) => r.method === 'PATCH');

beforeAll(async () => {
  arm = await new ArmEmergencyFake().start();
  setProviderDeps(armProviderDeps(arm));
  process.env.DBOPS_POLL_INTERVAL_MS = '200';
  db = await createTestDatabase('emaz');
  const az = (server: string, env = 'production') => `environment: ${env}\nengine: azure-flexible\nurl: ${db.url}\nazure: { subscription: ${SUBSCRIPTION}, resourceGroup: rg-pay, server: ${server} }`;
  tb = await startTestBot({ targets: targetsYaml({ pay: az('pg-ha'), single: az('pg-single'), paystage: az('pg-ha', 'staging') }) });
}, 60_000);
afterAll(async () => {
  await tb?.stop();
  await arm?.stop();
  setProviderDeps({});
  await db?.drop();
  if (savedPoll === undefined) delete process.env.DBOPS_POLL_INTERVAL_MS;
  else process.env.DBOPS_POLL_INTERVAL_MS = savedPoll;
});
beforeEach(() => {
  arm.servers.set('pg-ha', { state: 'Ready', zone: '1', ha: { mode: 'ZoneRedundant', state: 'Healthy', standbyZone: '2' }, backupRetentionDays: 7 });
  arm.servers.set('pg-single', { state: 'Ready', zone: '1', ha: { mode: 'Disabled' }, backupRetentionDays: 7 });
  arm.requests.length = 0;
  arm.nextOperation = { inProgressPolls: 0, outcome: 'Succeeded' };
});

describe('/db failover on azure-flexible', () => {
  it('the card shows the primary and its zone; approved, one restart-with-failover POST (PlannedFailover) whose LRO is looked at until done; the primary is in the standby zone', async () => {
    arm.nextOperation = { inProgressPolls: 3, outcome: 'Succeeded' };
    const card = await requestCard(tb, 'failover pay --reason "zone 1 degraded"');
    expect(card.text).toContain('Fail over pay (azure-flexible) from pg-ha (1)');
    expect(card.text).toMatch(/Writer now\*\n`pg-ha \(1\)`/);
    expect(posts()).toEqual([]);
    await approve(tb, card);
    const run = await finished(tb, card.runId, 30_000);
    expect(run.error).toBeNull();
    expect(posts()).toHaveLength(1);
    expect(posts()[0]!.body).toEqual({ restartWithFailover: true, failoverMode: 'PlannedFailover' });
    expect(arm.servers.get('pg-ha')!.zone).toBe('2');
    expect(run.headline).toMatch(/^Failover of pay done: writer pg-ha \(1\) → pg-ha \(2\) in \d+s$/);
    expect(factOf(run, 'After')).toBe('pg-ha (2)');
    const text = await threadMessage(tb, card.runId, 'Failover of pay');
    for (const secret of ['127.0.0.1', SUBSCRIPTION, '/subscriptions/']) expect(text).not.toContain(secret);
  });

  it('HA disabled: refused at plan time with the reason, no approval card, no request to Azure beyond reads', async () => {
    const reply = await ask(tb, 'failover single');
    expect(reply).toContain('flexible server pg-single has high availability disabled: there is no standby to fail over to');
    expect(tb.fake.callsOf('chat.postMessage').filter((c) => JSON.stringify(c.args).includes('Fail over single'))).toEqual([]);
    expect(posts()).toEqual([]);
    expect(patches()).toEqual([]);
  });

  it('a failed LRO fails the run with Azure’s code in plain words and no resource path', async () => {
    arm.nextOperation = { inProgressPolls: 1, outcome: { code: 'PlannedFailoverFailed', message: 'standby not in sync' } };
    const card = await requestCard(tb, 'failover pay');
    await approve(tb, card);
    const run = await finished(tb, card.runId, 30_000);
    expect(run.state).toBe('failed');
    expect(run.error).toContain('PlannedFailoverFailed');
    expect(run.error).not.toContain('/subscriptions/');
    expect(posts()).toHaveLength(1);
  });
});

describe('/db retention on azure-flexible', () => {
  it('raising runs without approval on staging: one PATCH of backup.backupRetentionDays; outside 7–35 days is refused before any request', async () => {
    expect(await ask(tb, 'retention paystage 40')).toMatch(/7–35/);
    expect(patches()).toEqual([]);
    const runId = await queued(tb, 'retention paystage 14');
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    expect(patches()).toHaveLength(1);
    expect(JSON.stringify(patches()[0]!.body)).toContain('"backupRetentionDays":14');
    expect(arm.servers.get('pg-ha')!.backupRetentionDays).toBe(14);
    expect(run.headline).toBe('paystage keeps automated backups 14 days (was 7)');
  });
});
