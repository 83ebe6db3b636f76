// Failover (restart with failover) and backup retention on Azure Flexible Server, at the provider
// level against the ARM fake: LRO in progress → succeeded, failed LRO → plain message, poller
// state as the checkpoint (a look re-attaches, never re-sends).
import { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AzureFlexibleProvider } from '../../src/providers/azure-flexible.js';
import { ProviderError } from '../../src/providers/index.js';
import { stubCredential, SUBSCRIPTION } from '../helpers/arm-fake.js';
import { ArmEmergencyFake } from '../helpers/arm-emergency-fake.js';

let arm: ArmEmergencyFake;
let client: PostgreSQLManagementFlexibleServerClient;

const provider = (server: string) => new AzureFlexibleProvider({ target: 'az', resourceGroup: 'rg1', server, client, pollIntervalMs: 10 });

beforeAll(async () => {
  arm = await new ArmEmergencyFake().start();
  client = new PostgreSQLManagementFlexibleServerClient(stubCredential, SUBSCRIPTION, { endpoint: arm.endpoint, tlsOptions: { ca: arm.ca }, retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 } });
});
afterAll(async () => {
  await arm?.stop();
});
beforeEach(() => {
  arm.servers.set('pg-ha', { state: 'Ready', zone: '1', ha: { mode: 'ZoneRedundant', state: 'Healthy', standbyZone: '2' }, backupRetentionDays: 7 });
  arm.servers.set('pg-single', { state: 'Ready', zone: '1', ha: { mode: 'Disabled' }, backupRetentionDays: 7 });
  arm.requests.length = 0;
  arm.nextOperation = { inProgressPolls: 0, outcome: 'Succeeded' };
});

describe('azure-flexible failover', () => {
  it('restart with failover: PlannedFailover, in progress → succeeded across looks re-attached from the checkpoint; the primary moves to the standby zone', async () => {
    const p = provider('pg-ha');
    const before = await p.topology();
    expect(before).toMatchObject({ available: true, writer: 'pg-ha', zone: '1', status: 'Ready, HA Healthy' });
    expect(before.cannotFailover).toBeUndefined();
    arm.nextOperation = { inProgressPolls: 2, outcome: 'Succeeded' };
    const cp = await p.startFailover({});
    expect(cp.poller).toEqual(expect.any(String));
    expect(arm.requests.find((r) => r.method === 'POST')!.body).toEqual({ restartWithFailover: true, failoverMode: 'PlannedFailover' });
    // Every look is a fresh provider from the saved JSON, as after a worker restart.
    let look = await provider('pg-ha').pollOperation(JSON.parse(JSON.stringify(cp)));
    for (let i = 0; !look.done && i < 5; i++) look = await provider('pg-ha').pollOperation(JSON.parse(JSON.stringify(look.checkpoint)));
    expect(look.done).toBe(true);
    expect(look.topology).toMatchObject({ writer: 'pg-ha', zone: '2' });
    expect(arm.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('--forced sends ForcedFailover', async () => {
    await provider('pg-ha').startFailover({ forced: true });
    expect(arm.requests.find((r) => r.method === 'POST')!.body).toEqual({ restartWithFailover: true, failoverMode: 'ForcedFailover' });
  });

  it('a failed LRO becomes a plain message naming the server and the code', async () => {
    arm.nextOperation = { inProgressPolls: 0, outcome: { code: 'PlannedFailoverFailed', message: 'standby /subscriptions/x/secret not in sync' } };
    const p = provider('pg-ha');
    const err = await (async () => {
      let cp = await p.startFailover({});
      for (let i = 0; i < 5; i++) cp = (await p.pollOperation(cp)).checkpoint;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).reason).toBe('failed');
    expect((err as ProviderError).userMessage).toBe("Azure reported that the operation on flexible server pg-ha failed (PlannedFailoverFailed). Check the server's activity log in the Azure portal.");
    expect((err as ProviderError).userMessage).not.toContain('/subscriptions/');
  });

  it('HA disabled: the topology says why it cannot fail over', async () => {
    const t = await provider('pg-single').topology();
    expect(t.cannotFailover).toContain('flexible server pg-single has high availability disabled: there is no standby to fail over to');
    expect(t.members).toHaveLength(1);
  });
});

describe('azure-flexible retention', () => {
  it('servers.beginUpdate with backup.backupRetentionDays, in progress → succeeded; the server reports the new value', async () => {
    arm.nextOperation = { inProgressPolls: 1, outcome: 'Succeeded' };
    const p = provider('pg-ha');
    const cp = await p.startRetention(14);
    expect(arm.requests.find((r) => r.method === 'PATCH')!.body).toEqual({ properties: { backup: { backupRetentionDays: 14 } } });
    let look = await p.pollOperation(cp);
    for (let i = 0; !look.done && i < 5; i++) look = await p.pollOperation(look.checkpoint);
    expect(look.done).toBe(true);
    expect((await p.restorableWindow()).retentionDays).toBe(14);
    expect(arm.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('outside 7–35 days: refused before any request', async () => {
    const err = await provider('pg-ha').startRetention(3).catch((e: unknown) => e);
    expect((err as ProviderError).userMessage).toContain('azure-flexible keeps automated backups 7–35 days');
    expect(arm.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });
});
