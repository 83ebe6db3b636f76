// `/db snapshot` and `/db snapshots` on Azure Flexible Server (HTTPS ARM fake) and self-hosted
// (pg_dump into a directory store), plus the capability matrix in /db help and /db targets.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmFake, stubCredential, SUBSCRIPTION } from '../helpers/arm-fake.js';
import { APPROVER, ask, eventually, INCIDENTS, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { connect, createTestDatabase } from '../helpers/db.js';
import { finishedRun, queueRun, stepRows, threadMessage, threadTexts } from '../helpers/snapshot-runs.js';
import { setProviderDeps, checkedProvider } from '../../src/runbooks/providers.js';
import { matrixTable, targetVerbsLine } from '../../src/commands/capability-matrix.js';
import type { Target } from '../../src/config.js';
import { ENGINE_CAPABILITIES } from '../../src/providers/index.js';

let arm: ArmFake;
let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: string;
const SERVER = 'pay-flex';
const savedPoll = process.env.DBOPS_POLL_INTERVAL_MS;

beforeAll(async () => {
  arm = await new ArmFake().start();
  // The bot runs in this process: its Azure clients talk to the fake (endpoint, CA, a stub token).
  setProviderDeps({ azureCredential: stubCredential, azureClientOptions: { endpoint: arm.endpoint, tlsOptions: { ca: arm.ca }, retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 } }, azurePollIntervalMs: 10 });
  process.env.DBOPS_POLL_INTERVAL_MS = '300';
  db = await createTestDatabase('snapeng');
  const c = await connect(db.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 500) g; CREATE TABLE customers (id int); INSERT INTO customers SELECT generate_series(1, 20)`);
  await c.end();
  store = mkdtempSync(join(tmpdir(), 'dbops-snapstore-'));
  tb = await startTestBot({
    targets: targetsYaml({
      payments: `environment: staging\nengine: azure-flexible\nurl: ${db.url}\nazure: { subscription: ${SUBSCRIPTION}, resourceGroup: rg-pay, server: ${SERVER} }`,
      local: `environment: staging\nengine: self-hosted\nurl: ${db.url}\nbackups: { store: ${store}, keep: 5 }`,
      nobackups: `environment: staging\nengine: self-hosted\nurl: ${db.url}`,
      gated: `environment: production\nengine: self-hosted\nurl: ${db.url}\nbackups: { store: ${store}/gated }\npolicy: { change: approval }`,
    }),
  });
}, 60_000);
afterAll(async () => {
  await tb?.stop();
  await arm?.stop();
  await db?.drop();
  setProviderDeps({});
  if (store) rmSync(store, { recursive: true, force: true });
  if (savedPoll === undefined) delete process.env.DBOPS_POLL_INTERVAL_MS;
  else process.env.DBOPS_POLL_INTERVAL_MS = savedPoll;
});
beforeEach(() => {
  arm.requests.length = 0;
  arm.nextOperation = { inProgressPolls: 0, outcome: 'Succeeded' };
  arm.servers.set(SERVER, { backupRetentionDays: 14, earliestRestoreDate: '2026-11-17T08:00:00Z', state: 'Ready' });
  if (!arm.backups.has(SERVER)) arm.backups.set(SERVER, [{ name: 'backup_638000000000000000', backupType: 'Full', completedTime: '2026-11-30T02:00:00Z' }]);
});

describe('azure-flexible', () => {
  it('an on-demand backup whose LRO is in progress for a while succeeds; every look re-attaches, the PUT is sent once', async () => {
    arm.nextOperation = { inProgressPolls: 4, outcome: 'Succeeded' };
    const runId = await queueRun(tb, 'snapshot payments');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('succeeded');
    const id = run.plan.facts.snapshotId as string;
    // Each look builds a fresh client and resumes the poller from the checkpoint: never a second PUT.
    expect(arm.putsTo(`/backups/${id}`)).toBe(1);
    expect(arm.requests.filter((r) => r.path.startsWith('/operations/')).length).toBeGreaterThanOrEqual(5);
    expect(await stepRows(tb, runId)).toEqual([
      { name: 'start', state: 'done', attempts: 1 },
      { name: 'wait', state: 'done', attempts: 1 },
    ]);
    const result = await threadMessage(tb, runId, `Snapshot ${id} is available`);
    expect(result).toContain(`/db restore payments --snapshot ${id}`);
    expect((await threadTexts(tb, runId)).some((t) => t.includes(`${id}: backing up`))).toBe(true);
  });

  it('a run parked mid-LRO survives a bot restart and re-attaches without resending the PUT', async () => {
    arm.nextOperation = { inProgressPolls: 6, outcome: 'Succeeded' };
    const runId = await queueRun(tb, 'snapshot payments');
    const id = (await stateQuery(tb, `SELECT plan->'facts'->>'snapshotId' AS id FROM runs WHERE id = $1`, [runId])).rows[0].id as string;
    await new Promise((r) => setTimeout(r, 700));
    expect(arm.putsTo(`/backups/${id}`)).toBe(1);
    await tb.restart();
    const run = await finishedRun(tb, runId, 30_000);
    expect(run.state).toBe('succeeded');
    expect(arm.putsTo(`/backups/${id}`)).toBe(1);
  });

  it('a failed LRO fails the run with Azure’s reason in plain words, and says what is left', async () => {
    arm.nextOperation = { inProgressPolls: 1, outcome: { code: 'BackupStorageUnavailable', message: 'backup storage for server pay-flex is unavailable' } };
    const runId = await queueRun(tb, 'snapshot payments');
    const run = await finishedRun(tb, runId);
    expect(run.state).toBe('failed');
    expect(run.error).toBe("Azure reported that the operation on flexible server pay-flex failed (BackupStorageUnavailable). Check the server's activity log in the Azure portal.");
    const failure = await threadMessage(tb, runId, 'State left');
    expect(failure).toContain('unless the engine reported it failed');
    expect(failure).not.toContain('127.0.0.1');
  });

  it('/db snapshots shows retention and the restorable window above the backups, newest first', async () => {
    const text = await ask(tb, 'snapshots payments');
    expect(text).toContain('*Retention:* *14 days*');
    expect(text).toContain('*Restorable window (any point in time):* 2026-11-17 08:00 UTC → a few minutes ago');
    const ids = [...text.matchAll(/^(dbops-payments-\S+|backup_\d+)\s/gm)].map((m) => m[1]);
    expect(ids.at(-1)).toBe('backup_638000000000000000');
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const auto = await ask(tb, 'snapshots payments --type automated --limit 1');
    expect(auto).toContain('backup_638000000000000000  automated  available');
    expect(auto).not.toContain('dbops-payments-');
    expect(await ask(tb, 'snapshots payments --type nightly')).toContain('`type`: must be manual, automated or all');
  });
});

describe('self-hosted', () => {
  it('/db snapshot dumps into the directory store; /db snapshots lists it with its size', async () => {
    const runId = await queueRun(tb, 'snapshot local --name before-migration-42');
    const run = await finishedRun(tb, runId, 45_000);
    expect(run.state).toBe('succeeded');
    expect(readdirSync(store).sort()).toEqual(['before-migration-42.dump', 'before-migration-42.manifest.json'].sort());
    const result = await threadMessage(tb, runId, 'Snapshot before-migration-42 is available');
    // dbops' own restore verb where the engine has it; else pg_restore (mrkdwn: the placeholder's angle brackets escaped).
    if (ENGINE_CAPABILITIES['self-hosted'].has('restore')) expect(result).toContain('/db restore local --snapshot before-migration-42');
    else expect(result).toContain('pg_restore --dbname &lt;new empty database&gt; before-migration-42.dump');
    expect(result).toMatch(/\d+(\.\d)? KB/);
    const list = await ask(tb, 'snapshots local');
    expect(list).toContain('*Retention:* the newest *5* dumps');
    expect(list).toMatch(/before-migration-42\s+manual\s+available\s+\d/);
    expect(list).toContain('*Restorable:* the listed dumps only');
  });

  it('a self-hosted target without backups.store is refused at request time, with the field to add', async () => {
    const before = (await stateQuery(tb, `SELECT count(*)::int AS n FROM runs`)).rows[0].n;
    expect(await ask(tb, 'snapshot nobackups')).toContain('Target nobackups (self-hosted) needs backups.store (a directory or s3://bucket/prefix) in the targets file.');
    expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM runs`)).rows[0].n).toBe(before);
  });
});

describe('approval', () => {
  it('the card names the snapshot id decided at request time; the approved run takes exactly that one', async () => {
    const reply = await ask(tb, 'snapshot gated --reason "before the migration"');
    expect(reply).toContain('Waiting for approval');
    const runId = /`(r_[0-9a-f]+)`/.exec(reply)![1]!;
    const row = (await stateQuery(tb, `SELECT card_ts, plan->'facts'->>'snapshotId' AS id FROM runs WHERE id = $1`, [runId])).rows[0];
    const card = tb.fake.callsOf('chat.postMessage').find((c) => c.args.channel === INCIDENTS && (c.response as { ts?: string }).ts === row.card_ts)!;
    expect(textOf(card.args as never)).toContain(row.id);
    // The re-plan at approval makes a new id (a new nonce): that is allowed drift; the approved id runs.
    await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: row.card_ts, actionId: 'approval_approve', value: runId });
    const run = await finishedRun(tb, runId, 45_000);
    expect(run.state).toBe('succeeded');
    await eventually(() => readdirSync(join(store, 'gated')).includes(`${row.id}.manifest.json`), 5000, 'the approved dump');
    expect(readdirSync(join(store, 'gated')).filter((f) => f.endsWith('.manifest.json'))).toEqual([`${row.id}.manifest.json`]);
  });
});

describe('capability matrix', () => {
  it('/db help shows which engine supports which engine-backed verb; /db help snapshot names its engines', async () => {
    const help = await ask(tb, 'help');
    expect(help).toContain('What each engine supports');
    expect(help).toMatch(/snapshot\s+✓\s+✓\s+✓\s+✓/);
    expect(help).toMatch(/snapshots\s+✓\s+✓\s+✓\s+✓/);
    expect(await ask(tb, 'help snapshot')).toContain('*Engines:* self-hosted, aws-rds, aws-aurora, azure-flexible');
  });

  it('/db targets shows each target’s engine verbs', async () => {
    const t = await ask(tb, 'targets');
    expect(t).toMatch(/payments[\s\S]*engine verbs: snapshot, snapshots/);
  });

  it('derives "not on <engine>" from ENGINE_CAPABILITIES, and refuses such a verb before a run', () => {
    expect(matrixTable(['snapshot', 'backup verify', 'scale']).split('\n')).toEqual([
      'verb           self-hosted  aws-rds  aws-aurora  azure-flexible',
      'snapshot       ✓            ✓        ✓           ✓',
      'backup verify  ✓            ✓        ✓           ✓',
      'scale          –            –        ✓           –',
    ]);
    expect(targetVerbsLine({ engine: 'azure-flexible' }, ['snapshot', 'snapshots', 'backup verify', 'scale'])).toBe('engine verbs: snapshot, snapshots, backup verify · not on azure-flexible: scale');
    const target = { name: 'payments', engine: 'azure-flexible', url: db.url, azure: { subscription: SUBSCRIPTION, resourceGroup: 'rg', server: 's' } } as unknown as Target;
    expect(() => checkedProvider(target, 'scale', '/db scale')).toThrow(/^`\/db scale` is not on azure-flexible: this engine supports snapshot, list, window/);
  });
});
