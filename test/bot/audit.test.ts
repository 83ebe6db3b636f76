import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery, createTestDatabase } from '../helpers/db.js';
import { eventually, METRICS_TOKEN, startTestBot, stateQuery, targetsYaml, type TestBot, ask as askBot } from '../helpers/bot.js';

let tb: TestBot;
let target: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  target = await createTestDatabase('audit');
  tb = await startTestBot({ targets: targetsYaml({ demo: `environment: staging\nengine: self-hosted\nurl: ${target.url}` }) });
});
afterAll(async () => {
  await tb?.stop();
  await target?.drop();
});

const ask = (text: string) => askBot(tb, text);

it('/db runs, /db run <id> and /db audit show what happened', async () => {
  await ask('analyze demo');
  const id = await eventually(async () => (await stateQuery(tb, `SELECT id FROM runs WHERE runbook = 'analyze' AND state = 'succeeded'`)).rows[0]?.id as string | undefined, 20_000, 'analyze done');
  const runs = await ask('runs demo');
  expect(runs).toContain(id);
  expect(runs).toContain('ANALYZE the whole database on demo');
  expect(runs).toContain('succeeded');
  const one = await ask(`run ${id}`);
  expect(one).toContain(`Run ${id}`);
  expect(one).toMatch(/:white_check_mark: Run ANALYZE on the whole database/);
  const audit = await ask('audit demo --since 1h');
  expect(audit).toMatch(/request.*demo/);
  expect(audit).toMatch(/finish.*succeeded/);
  expect(await ask('run r_000000000000')).toMatch(/No run `r_000000000000`/);
});

it('/db audit verify checks the hash chain and reports a row altered in the database', async () => {
  expect(await ask('audit verify')).toMatch(/Audit chain verified: \d+ row/);
  // The table refuses updates; someone with superuser rights goes around the trigger.
  await adminQuery(`SELECT 1`);
  await stateQuery(tb, `ALTER TABLE audit DISABLE TRIGGER audit_no_update`);
  const victim = (await stateQuery(tb, `SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET 1`)).rows[0].id;
  await stateQuery(tb, `UPDATE audit SET outcome = 'nothing to see' WHERE id = $1`, [victim]);
  await stateQuery(tb, `ALTER TABLE audit ENABLE TRIGGER audit_no_update`);
  const report = await ask('audit verify');
  expect(report).toMatch(new RegExp(`BROKEN at row ${victim}: content does not match its hash`));
});

it('the audit table itself refuses updates and deletes', async () => {
  await expect(stateQuery(tb, `DELETE FROM audit`)).rejects.toThrow(/append-only/);
  await expect(stateQuery(tb, `UPDATE audit SET actor = 'x'`)).rejects.toThrow(/append-only/);
});

it('GET /metrics exposes requests, finished runs, approval decisions and queue depth', async () => {
  const res = await fetch(`${tb.bot.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toMatch(/dbops_requests_total\{runbook="analyze",risk="change",route="queued"\} 1/);
  expect(text).toMatch(/dbops_runs_finished_total\{runbook="analyze",outcome="succeeded"\} 1/);
  expect(text).toMatch(/dbops_run_duration_seconds_count\{runbook="analyze"\} 1/);
  expect(text).toMatch(/dbops_queue_jobs\{state="waiting"\} 0/);
  expect(text).toContain('dbops_process_cpu_user_seconds_total');
});
