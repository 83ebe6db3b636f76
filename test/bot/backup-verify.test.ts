// /db backup verify on the wire: a self-hosted target with a directory store, and one with an S3 store on moto.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerFor, snapshotId } from '../../src/providers/index.js';
import { artifactName, manifestName } from '../../src/providers/manifest.js';
import { adminQuery, connect, createTestDatabase } from '../helpers/db.js';
import { ask, eventually, OPS, startTestBot, stateQuery, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';
import { startMoto, type Moto } from '../helpers/moto.js';

let tb: TestBot;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let moto: Moto;
let s3: S3Client;
let dir: string;
const saved = { ...process.env };

const dump = async (target: 'demo' | 's3demo', tag: string): Promise<string> => {
  const id = snapshotId(target, tag, new Date());
  const backups = target === 'demo' ? { store: dir } : { store: 's3://dumps/pg', s3: { forcePathStyle: true } };
  await providerFor({ name: target, engine: 'self-hosted', url: db.url, backups }, target === 's3demo' ? { s3 } : {}).startSnapshot(id);
  return id;
};

/** The thread reply of the run the last `/db backup verify` queued: its result or its failure. */
async function outcomeOf(reply: string): Promise<{ runId: string; text: string }> {
  const runId = /`(r_[0-9a-f]+)`/.exec(reply)?.[1];
  expect(runId, reply).toBeTruthy();
  const run = await eventually(async () => (await stateQuery(tb, `SELECT state, thread_ts FROM runs WHERE id = $1 AND state IN ('succeeded','failed')`, [runId])).rows[0], 40_000, `run ${runId} finished`);
  const post = await eventually(
    () => tb.fake.callsOf('chat.postMessage').find((c) => c.args.thread_ts === run.thread_ts && /verified:|FAILED verification|failed/.test(textOf(c.args as never))),
    10_000,
    'result in the thread',
  );
  return { runId: runId!, text: textOf(post.args as never) };
}

const scratchLeft = async (name: string) => (await adminQuery('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;

beforeAll(async () => {
  moto = await startMoto();
  // The bot builds its S3 client the ecosystem's way: endpoint and credentials from the environment.
  Object.assign(process.env, { AWS_ENDPOINT_URL_S3: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: moto.region });
  s3 = new S3Client({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'dumps' }));
  dir = mkdtempSync(join(tmpdir(), 'dbops-verify-'));
  db = await createTestDatabase('verify');
  const c = await connect(db.url);
  await c.query(`CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 3000) g`);
  await c.query(`CREATE SCHEMA "Sales <!channel>"; CREATE TABLE "Sales <!channel>".items (id int); INSERT INTO "Sales <!channel>".items SELECT generate_series(1, 250)`);
  await c.end();
  tb = await startTestBot({
    targets: targetsYaml({
      demo: `environment: staging\nengine: self-hosted\nurl: ${db.url}\nbackups: { store: ${dir} }`,
      s3demo: `environment: staging\nengine: self-hosted\nurl: ${db.url}\nbackups: { store: "s3://dumps/pg", s3: { forcePathStyle: true } }`,
      nostore: `environment: staging\nengine: self-hosted\nurl: ${db.url}`,
      rds: `environment: staging\nengine: aws-rds\nurl: ${db.url}\naws: { region: us-east-1, instance: orders }`,
    }),
  });
});
afterAll(async () => {
  await tb?.stop();
  await db?.drop();
  s3?.destroy();
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.env = saved;
});

describe('/db backup verify', () => {
  it('restores the newest dump, reports per-table rows in the thread, and drops the scratch database', async () => {
    const id = await dump('demo', 'good');
    const reply = await ask(tb, 'backup verify demo');
    expect(reply).toMatch(/Queued `r_[0-9a-f]+`: Verify backup dbops-demo-\d{12}-good of demo/);
    const { runId, text } = await outcomeOf(reply);
    expect(text).toContain(`Backup ${id} verified: 2 tables, row counts match the manifest`);
    expect(text).toContain('public.orders  3000 → 3000');
    // A schema name from the database is shown, not interpreted.
    expect(text).toContain('Sales &lt;!channel&gt;.items  250 → 250');
    const scratch = /(dbops_verify_[0-9a-f]+) \(dropped\)/.exec(text)?.[1];
    expect(scratch).toBeTruthy();
    expect(await scratchLeft(scratch!)).toBe(0);
    // Progress lived in the thread while it ran.
    const progress = tb.fake.callsOf('chat.update').map((c) => textOf(c.args as never)).filter((t) => t.includes('Restoring and comparing'));
    expect(progress.length).toBeGreaterThan(0);
    const audit = (await stateQuery(tb, `SELECT action, outcome, detail FROM audit WHERE run_id = $1 ORDER BY id`, [runId])).rows;
    // One step does the work on self-hosted; the four cloud steps record that they had nothing to do.
    expect(audit.map((r) => `${r.action}:${r.outcome}`)).toEqual(['request:queued', 'start:running', 'step:done', 'step:done', 'step:done', 'step:done', 'step:done', 'finish:succeeded']);
    expect(audit.at(-1).detail.headline).toContain(`Backup ${id} verified`);
  });

  it('a truncated dump fails the run with a clear report; nothing is restored', async () => {
    const id = await dump('demo', 'trunc');
    const file = join(dir, artifactName(id, 'custom'));
    const b = readFileSync(file);
    writeFileSync(file, b.subarray(0, Math.floor(b.length / 2)));
    const { runId, text } = await outcomeOf(await ask(tb, `backup verify demo ${id}`));
    expect(text).toContain(`Backup ${id} FAILED verification (2 problems):`);
    expect(text).toMatch(new RegExp(`The dump ${id}\\.dump is truncated: \\d+ of \\d+ bytes`));
    expect(text).toContain('No scratch database was created.');
    const run = (await stateQuery(tb, `SELECT state, error FROM runs WHERE id = $1`, [runId])).rows[0];
    expect(run.state).toBe('failed');
    const finish = (await stateQuery(tb, `SELECT outcome, detail FROM audit WHERE run_id = $1 AND action = 'finish'`, [runId])).rows[0];
    expect(finish.outcome).toBe('failed');
    expect(finish.detail.error).toContain('is truncated');
  });

  it('a manifest that disagrees with the restored rows fails, naming the table; the scratch database is gone', async () => {
    const id = await dump('demo', 'mismatch');
    const m = JSON.parse(readFileSync(join(dir, manifestName(id)), 'utf8'));
    m.tables = m.tables.map((t: { name: string; rows: number }) => (t.name === 'orders' ? { ...t, rows: t.rows + 1 } : t));
    writeFileSync(join(dir, manifestName(id)), JSON.stringify(m));
    const { text } = await outcomeOf(await ask(tb, `backup verify demo ${id}`));
    expect(text).toContain(`Backup ${id} FAILED verification (1 problem):`);
    expect(text).toContain('public.orders: 3000 rows restored, the manifest says 3001.');
    expect(text).toContain('Row counts: 1 of 2 tables match.');
    const scratch = /The scratch database (dbops_verify_[0-9a-f]+) was dropped/.exec(text)?.[1];
    expect(scratch).toBeTruthy();
    expect(await scratchLeft(scratch!)).toBe(0);
  });

  it('the same against an S3 store (moto)', async () => {
    const id = await dump('s3demo', 's3');
    const { text } = await outcomeOf(await ask(tb, 'backup verify s3demo'));
    expect(text).toContain(`Backup ${id} verified: 2 tables`);
    expect(text).toContain('public.orders  3000 → 3000');
  });

  it('is refused at request time where it cannot run: engine unreachable, no store, unknown dump', async () => {
    // Cloud verify is built (test/bot/backup-verify-cloud.test.ts); here AWS cannot be reached, so the plan fails before any run.
    expect(await ask(tb, 'backup verify rds')).toContain('AWS could not be reached');
    expect(await ask(tb, 'backup verify nostore')).toMatch(/needs backups\.store/);
    expect(await ask(tb, 'backup verify demo dbops-demo-nope')).toContain('No finished dump `dbops-demo-nope` of demo');
    expect(await ask(tb, 'backup verify demo "x;y"')).toMatch(/snapshot id looks like/);
    expect(await ask(tb, 'backup frobnicate demo')).toContain('`/db backup` needs `verify`, `drill` or `drills`');
    const refused = (await stateQuery(tb, `SELECT count(*)::int AS n FROM runs WHERE target IN ('rds', 'nostore')`)).rows[0].n;
    expect(refused).toBe(0);
  }, 30_000);
});

it('the request came from the ops channel, so the thread is there', async () => {
  const heads = tb.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === OPS && !c.args.thread_ts && /Verify backup/.test(textOf(c.args as never)));
  expect(heads.length).toBeGreaterThanOrEqual(4);
});
