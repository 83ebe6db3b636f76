// /db restore on azure-flexible through an HTTPS ARM fake: point-in-time restore into a NEW server
// (servers.beginCreateOrUpdate, createMode PointInTimeRestore) as an LRO whose poller is the
// checkpoint; validation through instanceUrl (a local database named after the server); the
// cutover reports the connection-string change (servers cannot be renamed).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setProviderDeps } from '../../src/runbooks/providers.js';
import { armProviderDeps, SUBSCRIPTION } from '../helpers/arm-fake.js';
import { ArmRestoreFake } from '../helpers/arm-restore-fake.js';
import { confirmAbortClick } from '../helpers/abort-click.js';
import { ask, eventually, stateQuery, startTestBot, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { ADMIN_URL, adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { approve, finished, queued, requestCard } from '../helpers/emergency-runs.js';
import { stepRows, threadMessage } from '../helpers/snapshot-runs.js';

let arm: ArmRestoreFake;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const SERVER = 'pay-flex';
const tag = Math.random().toString(36).slice(2, 7);
const localDbs: string[] = [];
const savedPoll = process.env.DBOPS_POLL_INTERVAL_MS;

async function restoredData(name: string, rows: number): Promise<void> {
  await adminQuery(`CREATE DATABASE "${name}"`);
  localDbs.push(name);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const c = await connect(u.toString());
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, ${rows})`);
  await c.end();
}
const recently = () => new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

beforeAll(async () => {
  arm = await new ArmRestoreFake().start();
  setProviderDeps(armProviderDeps(arm));
  process.env.DBOPS_POLL_INTERVAL_MS = '250';
  db = await createTestDatabase('rstaz');
  const c = await connect(db.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 300)`);
  await c.end();
  tb = await startTestBot({
    targets: targetsYaml({
      payments: `environment: staging\nengine: azure-flexible\nurl: ${db.url}\ninstanceUrl: ${ADMIN_URL.replace(/\/[^/]*$/, '/{instance}')}\nazure: { subscription: ${SUBSCRIPTION}, resourceGroup: rg-pay, server: ${SERVER} }`,
      paymentsprod: `environment: production\nengine: azure-flexible\nurl: ${db.url}\ninstanceUrl: ${ADMIN_URL.replace(/\/[^/]*$/, '/{instance}')}\nazure: { subscription: ${SUBSCRIPTION}, resourceGroup: rg-pay, server: ${SERVER} }`,
    }),
  });
}, 60_000);
afterAll(async () => {
  await tb?.stop();
  await arm?.stop();
  setProviderDeps({});
  await db?.drop();
  for (const n of localDbs) await adminQuery(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => undefined);
  if (savedPoll === undefined) delete process.env.DBOPS_POLL_INTERVAL_MS;
  else process.env.DBOPS_POLL_INTERVAL_MS = savedPoll;
});
beforeEach(() => {
  arm.requests.length = 0;
  arm.nextRestore = { inProgressPolls: 0, outcome: 'Succeeded' };
  arm.servers.set(SERVER, { state: 'Ready', location: 'westeurope', earliestRestoreDate: new Date(Date.now() - 7 * 86400_000).toISOString() });
});

describe('azure-flexible point-in-time restore', () => {
  it('outside the window: refused at pre-check, no server created', async () => {
    expect(await ask(tb, `restore payments --to-time 2020-01-01T00:00:00Z --as pay-${tag}-x`)).toMatch(/Restore refused, nothing was created: 2020-01-01T00:00:00Z is outside the restorable window of flexible server pay-flex/);
    expect(await ask(tb, `restore payments --snapshot no-such-backup --as pay-${tag}-x`)).toContain('No backup no-such-backup of flexible server pay-flex.');
    expect(arm.requests.filter((r) => r.method === 'PUT')).toEqual([]);
  });

  let restoreRun: string;
  const name = `pay-${tag}-pitr`;
  it('the LRO in progress for a while, then succeeded: one PUT, every look re-attaches; validated; cutover reports the connection-string change', async () => {
    await restoredData(name, 290);
    arm.nextRestore = { inProgressPolls: 4, outcome: 'Succeeded' };
    const at = recently();
    restoreRun = await queued(tb, `restore payments --to-time ${at} --as ${name}`);
    const run = await finished(tb, restoreRun, 30_000);
    expect(run.error).toBeNull();
    const puts = arm.putsTo(name);
    expect(puts).toHaveLength(1);
    expect(puts[0]!.body).toMatchObject({ location: 'westeurope', tags: { 'dbops-restore-run': restoreRun }, properties: { createMode: 'PointInTimeRestore', sourceServerResourceId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-pay/providers/Microsoft.DBforPostgreSQL/flexibleServers/${SERVER}` } });
    expect(new Date(puts[0]!.body.properties.pointInTimeUTC).toISOString()).toBe(new Date(at).toISOString());
    expect(arm.requests.filter((r) => r.path.startsWith('/operations/')).length).toBeGreaterThanOrEqual(5);
    expect((await stepRows(tb, restoreRun)).map((s) => `${s.name}:${s.attempts}`)).toEqual(['precheck:1', 'pre-restore-snapshot:1', 'restore:1', 'validate:1']);
    const v = (await stateQuery(tb, `SELECT output FROM run_steps WHERE run_id = $1 AND name = 'validate'`, [restoreRun])).rows[0].output;
    expect(v.sourceDiffers).toEqual(['public.orders: restored 290, payments now 300']);
    await threadMessage(tb, restoreRun, 'connection-string change');
    arm.requests.length = 0;
    const reply = await ask(tb, `cutover payments ${restoreRun}`);
    expect(reply).toContain(`change the host from ${SERVER}.postgres.database.azure.com to ${name}.postgres.database.azure.com`);
    expect(arm.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('a failed LRO fails the run with Azure’s reason and says what exists now', async () => {
    arm.nextRestore = { inProgressPolls: 1, outcome: { code: 'RestoreFailed', message: 'storage unavailable' } };
    const runId = await queued(tb, `restore payments --to-time ${recently()} --as pay-${tag}-fail`);
    const run = await finished(tb, runId, 30_000);
    expect(run.state).toBe('failed');
    expect(run.error).toContain('(RestoreFailed)');
    const left = await threadMessage(tb, runId, 'State left');
    expect(left).toContain(`The restored flexible server pay-${tag}-fail may exist`);
    expect(left).not.toContain('127.0.0.1');
  });

  it('validation failed (the new server unreachable): `/db run <id> resume` validates again, no second PUT', async () => {
    const n = `pay-${tag}-val`;
    const runId = await queued(tb, `restore payments --to-time ${recently()} --as ${n}`);
    expect((await finished(tb, runId, 30_000)).state).toBe('failed');
    expect((await stepRows(tb, runId)).map((r) => `${r.name}:${r.state}`)).toEqual(['precheck:done', 'pre-restore-snapshot:done', 'restore:done', 'validate:failed']);
    expect(await threadMessage(tb, runId, 'State left')).toContain(`\`/db run ${runId} abort\` deletes ${n}.`);
    await restoredData(n, 300);
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/Resuming `r_[0-9a-f]{12}` at "Validating"/);
    expect(await finished(tb, runId, 30_000)).toMatchObject({ state: 'succeeded', error: null });
    expect(arm.putsTo(n)).toHaveLength(1);
    expect((await stepRows(tb, runId)).map((r) => r.attempts)).toEqual([1, 1, 1, 2]);
  });

  it('production: a resume after the approval expired goes back to approval for the same plan (the run’s own server is not "a name taken"), then validates without a second PUT', async () => {
    const n = `pay-${tag}-pexp`;
    const card = await requestCard(tb, `restore paymentsprod --to-time ${recently()} --as ${n}`);
    await approve(tb, card);
    expect((await finished(tb, card.runId, 30_000)).state).toBe('failed');
    expect(arm.servers.get(n)?.tags?.['dbops-restore-run']).toBe(card.runId);
    const plan = (await stateQuery(tb, `SELECT plan_hash FROM runs WHERE id = $1`, [card.runId])).rows[0].plan_hash;
    await stateQuery(tb, `UPDATE approvals SET at = now() - interval '2 days' WHERE run_id = $1`, [card.runId]);
    await restoredData(n, 300);
    const cards = tb.fake.callsOf('chat.postMessage').length;
    expect(await ask(tb, `run ${card.runId} resume`)).toMatch(/needs a new approval to resume/);
    const fresh = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(cards).find((c) => /Resume of a failed run/.test(textOf(c.args as never))), 10_000, 'new card');
    expect((await stateQuery(tb, `SELECT state, plan_hash FROM runs WHERE id = $1`, [card.runId])).rows[0]).toEqual({ state: 'pending_approval', plan_hash: plan });
    await approve(tb, { ...card, cardTs: (fresh.response as { ts: string }).ts });
    expect(await finished(tb, card.runId, 30_000)).toMatchObject({ state: 'succeeded', error: null });
    expect(arm.putsTo(n)).toHaveLength(1);
    expect((await stepRows(tb, card.runId)).map((r) => r.attempts)).toEqual([1, 1, 1, 2]);
  });

  it('abort of a failed restore deletes the new server (its tag is this run’s) behind a confirmation; the source server stays', async () => {
    const n = `pay-${tag}-abort`;
    const runId = await queued(tb, `restore payments --to-time ${recently()} --as ${n}`);
    expect((await finished(tb, runId, 30_000)).state).toBe('failed');
    expect(arm.servers.get(n)?.tags?.['dbops-restore-run']).toBe(runId);
    expect(await ask(tb, `run ${runId} abort`)).toContain(`Would remove*\n• the new flexible server ${n}\n*Keeps*`);
    expect(arm.servers.has(n)).toBe(true);
    const report = await confirmAbortClick(tb, runId);
    expect(report).toContain(`Removed*\n• the new flexible server ${n}\n*Kept*`);
    expect(arm.servers.has(n)).toBe(false);
    expect(arm.servers.has(SERVER)).toBe(true);
    expect(arm.requests.filter((r) => r.method === 'DELETE').map((r) => r.path.split('/').at(-1))).toEqual([n]);
  });

  it('a run parked mid-LRO survives a bot restart and re-attaches from the checkpoint: one PUT', async () => {
    const n = `pay-${tag}-resume`;
    await restoredData(n, 300);
    arm.nextRestore = { inProgressPolls: 8, outcome: 'Succeeded' };
    const runId = await queued(tb, `restore payments --to-time ${recently()} --as ${n}`);
    await new Promise((r) => setTimeout(r, 900));
    expect(arm.putsTo(n)).toHaveLength(1);
    await tb.restart();
    const run = await finished(tb, runId, 30_000);
    expect(run.error).toBeNull();
    expect(arm.putsTo(n)).toHaveLength(1);
  });
});
