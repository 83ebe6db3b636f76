import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerFor } from '../../src/providers/index.js';
import { adminQuery, connect, createTestDatabase, urlFor as urlOf } from '../helpers/db.js';
import { APPROVER, ask, eventually, INCIDENTS, OPS, OUTSIDER, REQUESTER, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

/**
 * The restore around its steps: the modal (snapshot list, window, strict submission), `/db run <id>
 * resume` of a restore that failed mid-way (with and without a still-valid approval), `/db run <id>
 * abort`, and the result broadcast. Failures are real: a dump that GRANTs to a role dropped since
 * makes pg_restore fail (the step drops its half-done database); a freshness column that is not a
 * time makes validation fail with the restored database left in place.
 */
let tb: TestBot;
let src: Awaited<ReturnType<typeof createTestDatabase>>;
let prod: Awaited<ReturnType<typeof createTestDatabase>>;
let store: string;
const extraDbs: string[] = [];
const roles: string[] = [];

const databases = async () => (await adminQuery(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) OR starts_with(datname, $2) ORDER BY 1`, [src.name, prod.name])).rows.map((r) => r.datname as string);
const target = (name: 'rf' | 'rfp' | 'bad' | 'badp') => ({ name, engine: 'self-hosted' as const, url: name === 'rfp' || name === 'badp' ? prod.url : src.url, backups: { store: join(store, name), jobs: 2 } });
const runIdIn = (text: string) => /r_[0-9a-f]{12}/.exec(text)![0];

async function sql(url: string, text: string): Promise<void> {
  const c = await connect(url);
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function finished(runId: string, ms = 30_000): Promise<{ state: string; error: string | null }> {
  return eventually(async () => (await stateQuery(tb, `SELECT state, error FROM runs WHERE id = $1 AND state IN ('succeeded','failed')`, [runId])).rows[0], ms, `run ${runId} finished`);
}
const stateOf = async (runId: string) => (await stateQuery(tb, `SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state as string;
const steps = async (runId: string) => (await stateQuery(tb, `SELECT name, state, attempts FROM run_steps WHERE run_id = $1 ORDER BY idx`, [runId])).rows;

/** A dump that restores only while `role` exists: it GRANTs to it, and the role is dropped after the dump. */
async function dumpNeedingRole(url: string, t: ReturnType<typeof target>, role: string, id: string): Promise<void> {
  roles.push(role);
  await adminQuery(`DROP ROLE IF EXISTS ${role}`);
  await adminQuery(`CREATE ROLE ${role}`);
  await sql(url, `GRANT SELECT ON orders TO ${role}`);
  await providerFor(t).startSnapshot(id);
  await sql(url, `REVOKE SELECT ON orders FROM ${role}`);
  await adminQuery(`DROP ROLE ${role}`);
}

/** The approval card of `runId` posted after `from` calls, approved by APPROVER. */
async function approveCard(runId: string, from: number): Promise<void> {
  const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(from).find((c) => c.args.channel === INCIDENTS && /Approval needed/.test(textOf(c.args as never)) && JSON.stringify(c.args).includes(runId)), 15_000, `card of ${runId}`);
  await tb.wire.blockActions({ userId: APPROVER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
}

beforeAll(async () => {
  src = await createTestDatabase('rflow');
  prod = await createTestDatabase('rflowp');
  store = mkdtempSync(join(tmpdir(), 'dbops-restore-flow-'));
  for (const url of [src.url, prod.url]) {
    await sql(url, `CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 300) g`);
  }
  const backups = (dir: string) => `backups: { store: ${join(store, dir)}, jobs: 2 }`;
  tb = await startTestBot({
    targets: targetsYaml({
      rf: `environment: staging\nengine: self-hosted\nurl: ${src.url}\n${backups('rf')}`,
      rfp: `environment: production\nengine: self-hosted\nurl: ${prod.url}\n${backups('rfp')}`,
      // Same server and database as rf; its freshness column is text, so validation fails after the restore.
      bad: `environment: staging\nengine: self-hosted\nurl: ${src.url}\n${backups('bad')}\nfreshness: [public.orders.note]`,
      badp: `environment: production\nengine: self-hosted\nurl: ${prod.url}\n${backups('badp')}\nfreshness: [public.orders.note]`,
    }),
  });
}, 60_000);

afterAll(async () => {
  await tb?.stop();
  for (const n of extraDbs) await adminQuery(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => undefined);
  await src?.drop();
  await prod?.drop();
  for (const r of roles) await adminQuery(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
  if (store) rmSync(store, { recursive: true, force: true });
});

describe('the restore modal', () => {
  it('opens with the snapshot list and the window; its submission requests the restore, whose result is broadcast', async () => {
    await providerFor(target('rf')).startSnapshot('snap-a');
    const before = tb.fake.callsOf('views.open').length;
    await tb.wire.slashCommand({ text: 'restore rf', userId: REQUESTER, channelId: OPS });
    const open = await eventually(() => tb.fake.callsOf('views.open')[before], 10_000, 'restore modal');
    const view = (open.response as { view: { id: string; blocks: Array<Record<string, any>> } }).view;
    expect(view.blocks.map((b) => b.block_id)).toEqual(['arg:target', 'window', 'arg:snapshot', 'arg:as', 'arg:reason']);
    expect(view.blocks[2]!.element.options.map((o: { value: string }) => o.value)).toEqual(['snap-a']);
    expect(textOf({ blocks: [view.blocks[1]] })).toMatch(/Restorable window:\* the 1 dump\(s\) from \d{4}-\d\d-\d\d/);
    // The default name the restore would choose is proposed.
    expect(view.blocks[3]!.element.placeholder.text).toMatch(new RegExp(`^default: ${src.name}_r_[0-9a-f]{8}$`));

    const values = {
      'arg:target': { restore_modal_refresh: { type: 'static_select', selected_option: { value: 'rf' } } },
      'arg:snapshot': { restore_modal_refresh: { type: 'static_select', selected_option: { value: 'snap-a' } } },
      'arg:as': { value: { type: 'plain_text_input', value: `${src.name}_m` } },
      'arg:reason': { value: { type: 'plain_text_input', value: 'check <!channel> data' } },
    };
    // A forged submission with a field the restore does not take is refused, nothing is requested.
    const forged = await tb.wire.viewSubmission({ userId: REQUESTER, view: { id: view.id, state: { values: { ...values, 'arg:evil': { value: { type: 'plain_text_input', value: 'x' } } } } } });
    expect(JSON.stringify(forged.json)).toMatch(/does not take/);
    expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE runbook = 'restore'`)).rows[0].n).toBe(0);

    extraDbs.push(`${src.name}_m`);
    const eph = tb.fake.callsOf('chat.postEphemeral').length;
    const res = await tb.wire.viewSubmission({ userId: REQUESTER, view: { id: view.id, state: { values } } });
    expect(res.status).toBe(200);
    const reply = await eventually(() => tb.fake.callsOf('chat.postEphemeral').slice(eph).find((c) => /Queued/.test(textOf(c.args as never))), 15_000, 'queued reply');
    const runId = runIdIn(textOf(reply.args as never));
    const row = (await stateQuery(tb, `SELECT args, reason FROM runs WHERE id = $1`, [runId])).rows[0];
    expect(row).toEqual({ args: { snapshot: 'snap-a', as: `${src.name}_m` }, reason: 'check <!channel> data' });
    expect(await finished(runId)).toMatchObject({ state: 'succeeded' });
    // Not announced (staging), yet the result with its validation summary reaches the channel.
    const result = await eventually(() => tb.fake.callsOf('chat.postMessage').find((c) => String(c.args.reply_broadcast) === 'true' && JSON.stringify(c.args).includes(runId) && /Rows vs manifest/.test(textOf(c.args as never))), 10_000, 'broadcast result');
    expect(result.args.channel).toBe(OPS);
  }, 45_000);

  it('--snapshot on the slash command skips the modal; a wrong value is said at once', async () => {
    const before = tb.fake.callsOf('views.open').length;
    expect(await ask(tb, 'restore rf --snapshot snap-a --as Bad-Name')).toMatch(/`as`: a new database name is lower-case/);
    expect(await ask(tb, `restore rf --snapshot no-such`)).toMatch(/No finished dump no-such/);
    expect(tb.fake.callsOf('views.open').length).toBe(before);
  });
});

describe('resume and abort', () => {
  it('a restore that failed at pg_restore resumes at that step (earlier steps not repeated) and completes once', async () => {
    const role = `${src.name}_ro`;
    await dumpNeedingRole(src.url, target('rf'), role, 'with-grant');
    extraDbs.push(`${src.name}_g`);
    const runId = runIdIn(await ask(tb, `restore rf --snapshot with-grant --as ${src.name}_g`));
    const failed = await finished(runId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/pg_restore into .* failed .*the new database was dropped/);
    expect(await databases()).not.toContain(`${src.name}_g`);
    expect(await ask(tb, `run ${runId}`)).toContain(`/db run ${runId} resume`);
    // Only the requester or an approver.
    expect(await ask(tb, `run ${runId} resume`, OUTSIDER)).toMatch(/Only the requester/);
    expect(await stateOf(runId)).toBe('failed');

    await adminQuery(`CREATE ROLE ${role}`);
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/Resuming `r_[0-9a-f]{12}` at "Restoring into a new database"/);
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', error: null });
    expect(await steps(runId)).toEqual([
      { name: 'precheck', state: 'done', attempts: 1 },
      { name: 'pre-restore-snapshot', state: 'done', attempts: 1 },
      { name: 'restore', state: 'done', attempts: 2 },
      { name: 'validate', state: 'done', attempts: 1 },
    ]);
    const audit = (await stateQuery(tb, `SELECT action, outcome FROM audit WHERE run_id = $1 AND action IN ('resume','finish') ORDER BY id`, [runId])).rows;
    expect(audit).toEqual([
      { action: 'finish', outcome: 'failed' },
      { action: 'resume', outcome: 'queued' },
      { action: 'resume', outcome: 'running' },
      { action: 'finish', outcome: 'succeeded' },
    ]);
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/Only a failed run can be resumed/);
  }, 45_000);

  it('a resume after the approval expired posts a new card for the same plan and waits for it', async () => {
    const role = `${prod.name}_ro`;
    await dumpNeedingRole(prod.url, target('rfp'), role, 'with-grant');
    const name = `${prod.name}_g`;
    extraDbs.push(name);
    const calls = tb.fake.callsOf('chat.postMessage').length;
    const runId = runIdIn(await ask(tb, `restore rfp --snapshot with-grant --as ${name}`));
    await approveCard(runId, calls);
    expect((await finished(runId)).state).toBe('failed');
    const plan = (await stateQuery(tb, `SELECT plan_hash FROM runs WHERE id = $1`, [runId])).rows[0].plan_hash;
    // Approved longer ago than the target's expiry.
    await stateQuery(tb, `UPDATE approvals SET at = now() - interval '2 days' WHERE run_id = $1`, [runId]);
    await adminQuery(`CREATE ROLE ${role}`);

    const cards = tb.fake.callsOf('chat.postMessage').length;
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/needs a new approval to resume/);
    const card = await eventually(() => tb.fake.callsOf('chat.postMessage').slice(cards).find((c) => c.args.channel === INCIDENTS && /Resume of a failed run/.test(textOf(c.args as never))), 10_000, 'new card');
    expect(textOf(card.args as never)).toMatch(/Approval needed: restore on rfp/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await stateOf(runId)).toBe('pending_approval');
    expect((await stateQuery(tb, `SELECT plan_hash FROM runs WHERE id = $1`, [runId])).rows[0].plan_hash).toBe(plan);
    // The requester cannot approve the resume either.
    await tb.wire.blockActions({ userId: REQUESTER, channelId: INCIDENTS, messageTs: (card.response as { ts: string }).ts, actionId: 'approval_approve', value: runId });
    expect(await stateOf(runId)).toBe('pending_approval');

    await approveCard(runId, cards);
    expect(await finished(runId)).toMatchObject({ state: 'succeeded' });
    expect((await steps(runId)).map((s: { attempts: number }) => s.attempts)).toEqual([1, 1, 2, 1]);
  }, 45_000);

  it('a restore that failed at validation (its new database in place) resumes after the approval expired: the run’s own database is not "a name taken"', async () => {
    await providerFor(target('badp')).startSnapshot('plain-p');
    const name = `${prod.name}_v`;
    extraDbs.push(name);
    const calls = tb.fake.callsOf('chat.postMessage').length;
    const runId = runIdIn(await ask(tb, `restore badp --snapshot plain-p --as ${name}`));
    await approveCard(runId, calls);
    const failed = await finished(runId);
    expect(failed.state).toBe('failed');
    expect((await steps(runId)).map((s: { name: string; state: string }) => `${s.name}:${s.state}`)).toEqual(['precheck:done', 'pre-restore-snapshot:done', 'restore:done', 'validate:failed']);
    expect(await databases()).toContain(name);
    await stateQuery(tb, `UPDATE approvals SET at = now() - interval '2 days' WHERE run_id = $1`, [runId]);
    // Someone makes the restored copy's freshness column a time (older than the restore point).
    await sql(urlOf(name), `ALTER TABLE orders ALTER note TYPE timestamptz USING '2000-01-01T00:00:00Z'`);

    const cards = tb.fake.callsOf('chat.postMessage').length;
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/needs a new approval to resume/);
    await approveCard(runId, cards);
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', error: null });
    expect((await steps(runId)).map((s: { attempts: number }) => s.attempts)).toEqual([1, 1, 1, 2]);
  }, 45_000);

  it('abort of a failed restore removes the new database behind a confirmation, never the source or the snapshots', async () => {
    await providerFor(target('bad')).startSnapshot('plain');
    const name = `${src.name}_x`;
    extraDbs.push(name);
    const runId = runIdIn(await ask(tb, `restore bad --snapshot plain --as ${name}`));
    expect((await finished(runId)).state).toBe('failed');
    expect(await databases()).toContain(name);
    const pre = (await stateQuery(tb, `SELECT output FROM run_steps WHERE run_id = $1 AND name = 'pre-restore-snapshot'`, [runId])).rows[0].output.snapshotId as string;

    expect(await ask(tb, `run ${runId} abort`, OUTSIDER)).toMatch(/Only the requester/);
    const offer = await ask(tb, `run ${runId} abort`);
    expect(offer).toContain(`Would remove*\n• the new database ${name}\n*Keeps*`);
    expect(offer).toContain(`the pre-restore snapshot ${pre}`);
    expect(await databases()).toContain(name);
    // The button is sealed for the requester: someone else's click removes nothing.
    const confirm = tb.fake.messagesIn(OPS).filter((m) => m.ephemeralTo === REQUESTER && JSON.stringify(m.blocks).includes('run_abort_confirm')).at(-1)!;
    const sealed = JSON.stringify(confirm.blocks).match(/"value":"([^"]+)"/)![1]!;
    const replies = tb.fake.callsOf('response_url').length;
    await tb.wire.blockActions({ userId: APPROVER, channelId: OPS, messageTs: confirm.ts, actionId: 'run_abort_confirm', value: sealed });
    await eventually(() => tb.fake.callsOf('response_url').slice(replies).find((c) => /not yours/.test(textOf(c.args as never))), 10_000, 'refusal');
    expect(await databases()).toContain(name);

    await tb.wire.blockActions({ userId: REQUESTER, channelId: OPS, messageTs: confirm.ts, actionId: 'run_abort_confirm', value: sealed });
    const done = await eventually(() => tb.fake.callsOf('response_url').slice(replies).map((c) => textOf(c.args as never)).find((t) => /aborted/.test(t)), 15_000, 'abort report');
    expect(done).toContain(`Removed*\n• the new database ${name}\n*Kept*`);
    expect(await databases()).not.toContain(name);
    expect(await databases()).toContain(src.name);
    const kept = (await providerFor(target('bad')).listSnapshots()).map((s) => s.id);
    expect(kept).toEqual(expect.arrayContaining(['plain', pre]));
    expect((await stateQuery(tb, `SELECT count(*)::int AS n FROM audit WHERE run_id = $1 AND action = 'abort' AND actor = $2`, [runId, REQUESTER])).rows[0].n).toBe(1);
    expect(await ask(tb, `run ${runId} resume`)).toMatch(/was aborted/);
    expect(await ask(tb, `run ${runId} abort`)).toMatch(/already aborted/);
  }, 45_000);
});
