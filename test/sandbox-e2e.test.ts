// The sandbox in a real browser: Debian's Chromium driven by playwright-core against the page,
// with the real bot, the fake Slack, Redis and a demo database behind it. One person requests,
// watches live progress, and approves as someone else; the requester is told what happened; an old
// snapshot pins dead tuples and the advice that names it works. Screenshots go to test-artifacts/.
import { mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropDemoDatabase } from '../sandbox/demo-db.js';
import { startSandbox, type RunningSandbox } from '../sandbox/sandbox.js';
import { adminQuery, redisPrefix, urlFor } from './helpers/db.js';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/browser.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const suffix = Math.random().toString(36).slice(2, 8);
const STATE_DB = `dbops_sbx_${suffix}`;
const DEMO_DB = `dbops_sbx_demo_${suffix}`;

let sandbox: RunningSandbox;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `sandbox-${name}.png`) });
const messages = () => page.locator('#messages .message');
const thread = () => page.locator('#thread-messages .message');

async function send(text: string): Promise<void> {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

async function openChannel(name: string): Promise<void> {
  const button = page.locator('#channels button', { hasText: `# ${name}` });
  await button.click();
  // Under load a click can land while the page re-renders the list: click again until it switched (idempotent).
  await expect.poll(async () => {
    const now = await page.textContent('#channel-name');
    if (now !== `# ${name}`) await button.click().catch(() => undefined);
    return now;
  }, { timeout: 10_000 }).toBe(`# ${name}`);
}

async function asUser(id: string): Promise<void> {
  await page.selectOption('#user-switcher', id);
}

/** Distinct texts a locator shows until `until` resolves. */
async function textsUntil(target: Locator, until: Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    const text = await target.textContent({ timeout: 200 }).catch(() => null);
    if (text && seen.at(-1) !== text) seen.push(text);
    await page.waitForTimeout(50);
  }
  const last = await target.textContent().catch(() => null);
  if (last && seen.at(-1) !== last) seen.push(last);
  return seen;
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of readdirSync(ARTIFACTS)) if (f.startsWith('sandbox-failed-')) rmSync(join(ARTIFACTS, f));
  sandbox = await startSandbox({
    env: {
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      DATABASE_URL: urlFor(STATE_DB),
      DEMO_URL: urlFor(DEMO_DB),
      DBOPS_QUEUE_PREFIX: redisPrefix('sandbox'),
      LOG_LEVEL: 'warn',
    },
    webPort: 0,
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'dbops-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1440, height: 900 } });
  page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'warning' && m.text().includes('render errors') && errors.push(m.text()));
  (page as unknown as { jsErrors: string[] }).jsErrors = errors;
  await page.goto(sandbox.url);
  await page.waitForSelector('body[data-ready="true"]');
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') await shot(`failed-${ctx.task.name.split(':')[0]!.replace(/\W+/g, '-')}`).catch(() => undefined);
});

afterAll(async () => {
  await context?.close();
  await sandbox?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await dropDemoDatabase(urlFor(DEMO_DB)).catch(() => undefined);
  await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [STATE_DB]).catch(() => undefined);
  await adminQuery(`DROP DATABASE IF EXISTS "${STATE_DB}"`).catch(() => undefined);
});

describe('sandbox in Chromium', () => {
  it('shows the workspace: channels from the targets file, three demo users', async () => {
    await expect.poll(() => page.locator('#channels li').allTextContents(), { timeout: 10_000 }).toEqual(['# ops', '# incidents']);
    const users = await page.locator('#user-switcher option').allTextContents();
    expect(users).toEqual(['Riley Requester (approver)', 'Alex Approver (approver)', 'Sam Bystander']);
  });

  it('vacuum: the progress message changes live and the result lands in the thread', async () => {
    await openChannel('ops');
    await send('/db vacuum demo orders');
    const request = messages().filter({ hasText: 'VACUUM public.orders on demo —' }).last();
    await request.locator('.replies').waitFor({ timeout: 20_000 });
    await request.locator('.replies').click();
    const progress = thread().nth(1);
    await progress.waitFor();
    await shot('vacuum-progress');
    const result = thread().filter({ hasText: 'dead tuples' }).filter({ hasText: '→ 0' });
    const seen = await textsUntil(progress, result.waitFor({ timeout: 30_000 }));
    await shot('vacuum-done');

    expect(seen.length, `progress texts seen: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toMatch(/100%/);
    await expect.poll(() => request.textContent(), { timeout: 10_000 }).toContain('succeeded');
    expect(await progress.locator('.edited-tag').count()).toBe(1);
  });

  it('missing arguments open a modal: required fields, the bot\'s field errors, then the request', async () => {
    await send('/db vacuum demo');
    const modal = page.locator('#modal-root form.modal');
    await modal.waitFor({ timeout: 10_000 });
    expect(await modal.locator('.modal-header h2').textContent()).toBe('/db vacuum');
    expect(await modal.locator('select[data-block-id="arg:target"]').inputValue()).toBe('demo');
    const submit = modal.locator('[data-modal="submit"]');
    const tableError = modal.locator('.block[data-block-id="arg:table"] .field-error');

    await submit.click();
    await expect.poll(() => tableError.textContent(), { timeout: 10_000 }).toBe('Please complete this required field.');
    await modal.locator('input[data-block-id="arg:table"]').fill('x'.repeat(301));
    await submit.click();
    await expect.poll(() => tableError.textContent(), { timeout: 10_000 }).toContain('too long');
    await shot('modal-field-error');

    await modal.locator('input[data-block-id="arg:table"]').fill('orders');
    await modal.locator('label.choice', { hasText: '--analyze' }).locator('input').check();
    await submit.click();
    await page.locator('#modal-root').waitFor({ state: 'hidden', timeout: 10_000 });
    await messages().filter({ hasText: /VACUUM ANALYZE public\.orders/ }).first().waitFor({ timeout: 10_000 });
  });

  it('kill: the requester cannot approve, a bystander cannot approve, the approver can; sessions gone', async () => {
    await page.click('[data-demo="idle"]');
    await page.click('[data-demo="idle"]');
    await expect.poll(() => page.locator('#sessions li').allTextContents(), { timeout: 10_000 }).toEqual([expect.stringContaining('demo-app · idle'), expect.stringContaining('demo-app · idle')]);
    await send('/db kill demo idle');
    await openChannel('incidents');
    const pending = messages().filter({ has: page.locator('button[data-action-id="approval_approve"]') }).last();
    await pending.waitFor({ timeout: 15_000 });
    // The same message all along (chat.update keeps its ts), whatever it says later.
    const card = page.locator(`#messages .message[data-ts="${await pending.getAttribute('data-ts')}"]`);
    await shot('approval-card');

    await card.locator('button[data-action-id="approval_approve"]').click();
    const refusal = messages().filter({ hasText: 'you cannot approve it' });
    await refusal.waitFor({ timeout: 10_000 });
    expect(await refusal.first().textContent()).toContain('Only visible to you');
    await shot('approve-refused-requester');

    await asUser('U0BYSTANDER');
    await expect.poll(() => refusal.count(), { timeout: 10_000 }).toBe(0); // ephemerals are per user
    await card.locator('button[data-action-id="approval_approve"]').click();
    await messages().filter({ hasText: 'You are not an approver for demo' }).filter({ hasText: 'Only visible to you' }).first().waitFor({ timeout: 10_000 });
    await shot('approve-refused-bystander');

    await asUser('U0APPROVER');
    await card.locator('button[data-action-id="approval_approve"]').click();
    await expect.poll(() => card.textContent(), { timeout: 15_000 }).toMatch(/approved by @Alex Approver/);
    expect(await card.locator('button[data-action-id="approval_approve"]').count()).toBe(0);
    await card.locator('.replies').click();
    await thread().filter({ hasText: 'Terminated 2 of 2 approved session(s)' }).waitFor({ timeout: 20_000 });
    await shot('approved-result');
    // The sessions are gone: from the sandbox's list and from what dbops sees on the database.
    await expect.poll(() => page.locator('#sessions li').allTextContents(), { timeout: 10_000 }).toEqual(['no demo sessions open']);
    await openChannel('ops');
    const answers = messages().filter({ hasText: 'matching session(s) of max_connections' });
    const before = await answers.count();
    await send('/db connections demo');
    await expect.poll(() => answers.count(), { timeout: 10_000 }).toBe(before + 1);
    expect(await answers.last().textContent()).not.toContain('demo-app');
    await shot('connections-after-kill');
  });

  it('sending a command scrolls to its answer; while reading further up, a "New messages" marker says more arrived', async () => {
    await asUser('U0REQUESTER');
    await openChannel('ops');
    const pane = page.locator('#messages');
    const marker = page.locator('#new-messages');
    const gap = () => pane.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    // Enough history that the pane scrolls.
    for (let i = 0; i < 4; i++) await send('/db help');
    await expect.poll(() => pane.evaluate((el) => el.scrollHeight > el.clientHeight * 2), { timeout: 15_000 }).toBe(true);

    // Scrolled up to read, then a command: the view jumps to the answer.
    await pane.evaluate((el) => el.scrollTo(0, 0));
    const targets = messages().filter({ hasText: 'Only visible to you' }).filter({ hasText: 'demo' });
    const before = await targets.count();
    await send('/db targets');
    await expect.poll(() => targets.count(), { timeout: 10_000 }).toBe(before + 1);
    await expect.poll(gap, { timeout: 5_000 }).toBeLessThan(80);
    expect(await targets.last().isVisible()).toBe(true);
    await shot('scrolled-to-answer');

    // Reading history (scrolled up by hand) when something new arrives: stay put, show the marker.
    await pane.hover();
    await page.mouse.wheel(0, -100_000);
    await expect.poll(() => pane.evaluate((el) => el.scrollTop), { timeout: 5_000 }).toBe(0);
    // A demo session opened from the sidebar: Slackbot posts about it in the channel.
    await page.click('[data-demo="idle"]');
    await expect.poll(() => marker.isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await pane.evaluate((el) => el.scrollTop)).toBe(0);
    await shot('new-messages-marker');
    await marker.click();
    await expect.poll(gap, { timeout: 5_000 }).toBeLessThan(80);
    expect(await marker.isVisible()).toBe(false);
    await page.click('[data-demo-close="all"]');
    await expect.poll(() => page.locator('#sessions li').allTextContents(), { timeout: 10_000 }).toEqual(['no demo sessions open']);
  });

  it('the page says nothing about kept history when the state database started clean', async () => {
    expect(sandbox.history).toMatchObject({ fresh: false, earlierRuns: 0 });
    expect(await page.locator('#history-note').isVisible()).toBe(false);
  });

  it('notify the requester: Riley sees "approved by Alex", "started", "finished" in #ops, with a link that opens the thread', async () => {
    await asUser('U0REQUESTER');
    await openChannel('ops');
    await send('/db vacuum demo orders --full');
    const waiting = messages().filter({ hasText: 'Waiting for approval' }).filter({ hasText: 'VACUUM FULL public.orders on demo' });
    await waiting.waitFor({ timeout: 15_000 });
    const runId = /Run (r[\w-]+)/.exec((await waiting.textContent()) ?? '')?.[1];
    expect(runId, await waiting.textContent() ?? '').toBeTruthy();
    await shot('notify-1-requested');

    await asUser('U0APPROVER');
    await openChannel('incidents');
    const pending = messages().filter({ hasText: 'public.orders' }).filter({ has: page.locator('button[data-action-id="approval_approve"]') });
    await pending.waitFor({ timeout: 15_000 });
    const card = page.locator(`#messages .message[data-ts="${await pending.getAttribute('data-ts')}"]`);
    await card.locator('button[data-action-id="approval_approve"]').click();
    await expect.poll(() => card.textContent(), { timeout: 15_000 }).toMatch(/approved by @Alex Approver/);
    await shot('notify-2-approved-by-alex');

    // Ephemerals to the requester, in the channel they asked from; each names the run.
    await asUser('U0REQUESTER');
    await openChannel('ops');
    const mine = messages().filter({ hasText: 'Only visible to you' }).filter({ hasText: runId! });
    const approved = mine.filter({ hasText: 'was approved by @Alex Approver' });
    const started = mine.filter({ hasText: 'has started' });
    const finished = mine.filter({ hasText: 'finished: VACUUM FULL public.orders' });
    await approved.waitFor({ timeout: 15_000 });
    await started.waitFor({ timeout: 15_000 });
    await finished.waitFor({ timeout: 30_000 });
    for (const note of [approved, started, finished]) expect(await note.locator('a', { hasText: 'Progress thread' }).count()).toBe(1);
    expect(await finished.textContent()).toContain('✅');
    await shot('notify-3-requester-ephemerals');

    // Only Riley sees them (with the "waiting for approval" note): the approver in #ops does not.
    await asUser('U0APPROVER');
    await expect.poll(() => mine.count(), { timeout: 10_000 }).toBe(0);
    await asUser('U0REQUESTER');
    await expect.poll(() => mine.count(), { timeout: 10_000 }).toBe(4);

    // The link is a Slack permalink to the card: the page opens its channel and thread.
    await finished.locator('a', { hasText: 'Progress thread' }).click();
    await expect.poll(() => page.textContent('#channel-name'), { timeout: 10_000 }).toBe('# incidents');
    await thread().filter({ hasText: 'VACUUM FULL public.orders' }).filter({ hasText: '✅' }).first().waitFor({ timeout: 10_000 });
    await expect.poll(() => card.textContent(), { timeout: 10_000 }).toContain('succeeded: vacuum on demo');
    await shot('notify-4-thread-from-link');
  });

  it('dead tuples pinned: an old snapshot keeps them, the result names it with its kill; status shows it; killed, a vacuum removes them', async () => {
    await asUser('U0REQUESTER');
    await openChannel('ops');
    const sessions = () => page.locator('#sessions li').allTextContents();
    await page.click('[data-demo="snapshot"]');
    await expect.poll(sessions, { timeout: 10_000 }).toEqual([expect.stringContaining('demo-report · idle in transaction')]);
    const pid = Number(/pid (\d+)/.exec((await sessions())[0]!)?.[1]);
    expect(pid).toBeGreaterThan(0);
    await page.click('[data-demo-rows="delete"]');
    await messages().filter({ hasText: 'Deleted 2000 rows' }).filter({ hasText: `pid ${pid}` }).waitFor({ timeout: 10_000 });
    await shot('pinned-1-snapshot-and-deleted-rows');

    const requests = messages().filter({ hasText: 'VACUUM public.orders on demo —' });
    const vacuum = async () => {
      const before = await requests.count();
      await send('/db vacuum demo orders');
      await expect.poll(() => requests.count(), { timeout: 15_000 }).toBe(before + 1);
      const request = requests.nth(before);
      await request.locator('.replies').waitFor({ timeout: 20_000 });
      await request.locator('.replies').click();
      return request;
    };
    const first = await vacuum();
    const pinned = thread().filter({ hasText: 'dead tuples could not be removed' });
    await pinned.first().waitFor({ timeout: 30_000 });
    // A warning is still a finished run: the card settles before the screenshot.
    await expect.poll(() => first.textContent(), { timeout: 10_000 }).toContain('succeeded');
    const warning = (await pinned.first().textContent()) ?? '';
    expect(warning).toContain('⚠️');
    expect(warning).toContain('2,000 dead tuples could not be removed');
    expect(warning).toContain(`pid ${pid} (demo-report`);
    expect(warning).toContain(`/db kill demo ${pid}`);
    await shot('pinned-2-vacuum-warning');

    const statuses = messages().filter({ hasText: 'Oldest xmin horizon holder' });
    const beforeStatus = await statuses.count();
    await send('/db status demo');
    await expect.poll(() => statuses.count(), { timeout: 10_000 }).toBe(beforeStatus + 1);
    expect(await statuses.last().textContent()).toContain(`pid ${pid} (demo-report`);
    await shot('pinned-3-status-horizon');

    // The advice works as written: the kill, approved by someone else, ends the holder.
    await send(`/db kill demo ${pid}`);
    await asUser('U0APPROVER');
    await openChannel('incidents');
    const pending = messages().filter({ hasText: String(pid) }).filter({ has: page.locator('button[data-action-id="approval_approve"]') });
    await pending.waitFor({ timeout: 15_000 });
    const card = page.locator(`#messages .message[data-ts="${await pending.getAttribute('data-ts')}"]`);
    await card.locator('button[data-action-id="approval_approve"]').click();
    await card.locator('.replies').click({ timeout: 15_000 });
    await thread().filter({ hasText: 'Terminated 1 of 1 approved session(s)' }).waitFor({ timeout: 20_000 });
    await expect.poll(sessions, { timeout: 10_000 }).toEqual(['no demo sessions open']);
    await shot('pinned-4-holder-killed');

    await asUser('U0REQUESTER');
    await openChannel('ops');
    const again = await vacuum();
    const removed = thread().filter({ hasText: '✅' }).filter({ hasText: 'dead tuples' }).filter({ hasText: '→ 0' });
    await removed.first().waitFor({ timeout: 30_000 });
    await expect.poll(() => again.textContent(), { timeout: 10_000 }).toContain('succeeded');
    const done = (await removed.first().textContent()) ?? '';
    expect(done).not.toContain('could not be removed');
    expect(Number(/Removed \/ kept \(VACUUM VERBOSE\)\s*(\d+) \/ 0/.exec(done)?.[1])).toBeGreaterThanOrEqual(2000);
    await shot('pinned-5-vacuum-removed');
  });

  it('deny: the Deny button opens a modal whose reason ends up on the card', async () => {
    await asUser('U0REQUESTER');
    await openChannel('ops');
    await send('/db vacuum demo customers --full');
    await openChannel('incidents');
    const pending = messages().filter({ hasText: 'public.customers' }).filter({ has: page.locator('button[data-action-id="approval_deny"]') });
    await pending.waitFor({ timeout: 15_000 });
    const card = page.locator(`#messages .message[data-ts="${await pending.getAttribute('data-ts')}"]`);
    await asUser('U0APPROVER');
    await card.locator('button[data-action-id="approval_deny"]').click();
    const modal = page.locator('#modal-root form.modal');
    await modal.waitFor({ timeout: 10_000 });
    await modal.locator('textarea').fill('not during <business> hours');
    await shot('deny-modal');
    await modal.locator('[data-modal="submit"]').click();
    await page.locator('#modal-root').waitFor({ state: 'hidden', timeout: 10_000 });
    await expect.poll(() => card.textContent(), { timeout: 10_000 }).toContain('denied by @Alex Approver: not during <business> hours');
    expect((page as unknown as { jsErrors: string[] }).jsErrors).toEqual([]);
  });
});
