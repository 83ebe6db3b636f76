import { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AzureFlexibleProvider } from '../../src/providers/azure-flexible.js';
import { ProviderError } from '../../src/providers/errors.js';
import { snapshotId } from '../../src/providers/snapshot-id.js';
import { ArmFake, stubCredential, SUBSCRIPTION } from '../helpers/arm-fake.js';

let fake: ArmFake;
const SERVER = 'pay-flex';

function clientFor(): PostgreSQLManagementFlexibleServerClient {
  return new PostgreSQLManagementFlexibleServerClient(stubCredential, SUBSCRIPTION, { endpoint: fake.endpoint, tlsOptions: { ca: fake.ca }, retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 } });
}

/** A fresh SDK client, as a different worker would build after a restart. */
function provider(): AzureFlexibleProvider {
  return new AzureFlexibleProvider({ target: 'payments', resourceGroup: 'rg-pay', server: SERVER, client: clientFor(), pollIntervalMs: 10 });
}

beforeAll(async () => {
  fake = await new ArmFake().start();
});
afterAll(async () => {
  await fake?.stop();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.faults.length = 0;
  fake.backups.clear();
  fake.nextOperation = { inProgressPolls: 0, outcome: 'Succeeded' };
  fake.servers.clear();
  fake.servers.set(SERVER, { backupRetentionDays: 14, earliestRestoreDate: '2026-11-17T08:00:00Z', state: 'Ready' });
  fake.backups.set(SERVER, [{ name: 'backup_638000000000000000', backupType: 'Full', completedTime: '2026-11-30T02:00:00Z' }]);
});

const id = (run: string) => snapshotId('payments', run, new Date('2026-12-01T10:20:00Z'));

describe('azure-flexible provider against the HTTPS ARM fake', () => {
  it('starts an on-demand backup whose LRO is in progress for a while, then succeeds', async () => {
    fake.nextOperation = { inProgressPolls: 3, outcome: 'Succeeded' };
    const p = provider();
    const start = await p.startSnapshot(id('r1'));
    expect(start.alreadyStarted).toBe(false);
    expect(start.checkpoint.poller).toEqual(expect.any(String));
    let checkpoint = start.checkpoint;
    const states: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await p.pollSnapshot(checkpoint);
      checkpoint = r.checkpoint;
      states.push(r.done);
      if (r.done) {
        expect(r.snapshot).toMatchObject({ id: 'dbops-payments-202612011020-r1', type: 'manual', status: 'available' });
        break;
      }
      expect(r.snapshot?.status).toBe('creating');
    }
    // beginCreate polled once at start; then two more InProgress answers, then Succeeded.
    expect(states).toEqual([false, false, true]);
    expect(fake.putsTo('/backups/')).toBe(1);
    const manual = await p.listSnapshots({ type: 'manual' });
    expect(manual.map((s) => s.id)).toEqual(['dbops-payments-202612011020-r1']);
  });

  it('a failed LRO is ProviderError("failed") naming Azure\'s error code', async () => {
    fake.nextOperation = { inProgressPolls: 1, outcome: { code: 'BackupStorageUnavailable', message: 'backup storage for server pay-flex is unavailable' } };
    const p = provider();
    const { checkpoint } = await p.startSnapshot(id('r2'));
    const err = (await p.pollSnapshot(checkpoint).catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.reason).toBe('failed');
    expect(err.userMessage).toBe("Azure reported that the operation on flexible server pay-flex failed (BackupStorageUnavailable). Check the server's activity log in the Azure portal.");
    expect(err.userMessage).not.toContain('127.0.0.1');
  });

  it('a poller resumed from its serialised state on a new client re-attaches without resending the create', async () => {
    fake.nextOperation = { inProgressPolls: 2, outcome: 'Succeeded' };
    const { checkpoint } = await provider().startSnapshot(id('r3'));
    // The run's step data is JSON: the checkpoint survives a round trip and a worker restart.
    const restored = JSON.parse(JSON.stringify(checkpoint)) as typeof checkpoint;
    let r = await provider().pollSnapshot(restored);
    expect(r.done).toBe(false);
    r = await provider().pollSnapshot(r.checkpoint);
    expect(r.done).toBe(true);
    expect(fake.putsTo('/backups/')).toBe(1);
    expect(fake.requests.filter((q) => q.path.startsWith('/operations/')).length).toBe(3);
  });

  it('a retried start for our own id that already exists is "already started"', async () => {
    const p = provider();
    const first = await p.startSnapshot(id('r4'));
    await p.pollSnapshot(first.checkpoint);
    const again = await p.startSnapshot(id('r4'));
    expect(again.alreadyStarted).toBe(true);
    expect((await p.pollSnapshot(again.checkpoint)).done).toBe(true);
    expect(fake.putsTo('/backups/')).toBe(1);
  });

  it('lists automated and manual backups newest first and reads the window from the server', async () => {
    const p = provider();
    const s = await p.startSnapshot(id('r5'));
    await p.pollSnapshot(s.checkpoint);
    const all = await p.listSnapshots();
    expect(all.map((x) => [x.id, x.type])).toEqual([
      ['dbops-payments-202612011020-r5', 'manual'],
      ['backup_638000000000000000', 'automated'],
    ]);
    expect((await p.listSnapshots({ type: 'automated', limit: 5 })).map((x) => x.id)).toEqual(['backup_638000000000000000']);
    const w = await p.restorableWindow();
    expect(w).toEqual({ granularity: 'continuous', retentionDays: 14, earliest: new Date('2026-11-17T08:00:00Z') });
  });

  it('maps 403, 404, 409 and persistent 429/503 to plain provider errors (after the SDK retries)', async () => {
    const p = provider();
    const reasonOf = async (f: () => Promise<unknown>) => ((await f().catch((e: unknown) => e)) as ProviderError).reason;
    fake.faults.push({ method: 'GET', pathIncludes: `/flexibleServers/${SERVER}`, status: 403, code: 'AuthorizationFailed', times: 1 });
    expect(await reasonOf(() => p.restorableWindow())).toBe('access_denied');
    expect(await reasonOf(() => new AzureFlexibleProvider({ target: 'x', resourceGroup: 'rg-pay', server: 'ghost', client: clientFor() }).restorableWindow())).toBe('not_found');
    fake.faults.push({ method: 'PUT', pathIncludes: '/backups/', status: 409, code: 'ServerBusy', times: 1 });
    expect(await reasonOf(() => p.startSnapshot(id('r6')))).toBe('wrong_state');
    fake.faults.push({ method: 'GET', pathIncludes: `/flexibleServers/${SERVER}`, status: 503, code: 'ServiceUnavailable', times: 10 });
    expect(await reasonOf(() => p.restorableWindow())).toBe('unavailable');
    fake.faults.length = 0;
    // A transient 503 is retried by the SDK and succeeds.
    fake.faults.push({ method: 'GET', pathIncludes: `/flexibleServers/${SERVER}`, status: 503, code: 'ServiceUnavailable', times: 1 });
    expect((await p.restorableWindow()).retentionDays).toBe(14);
  });
});
