// The sandbox's state database starts clean on each start (issue 10), and when it cannot, the
// sandbox says what it keeps: the page shows the note, the terminal prints it.
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { historyNote, prepareStateDatabase } from '../sandbox/state-db.js';
import { adminQuery, urlFor } from './helpers/db.js';

const suffix = Math.random().toString(36).slice(2, 8);
const OWN = `dbops_sandbox_t${suffix}`;
const FOREIGN = `dbops_kept_${suffix}`;

async function withRuns(name: string, runs: number): Promise<void> {
  await adminQuery(`CREATE DATABASE "${name}"`);
  const c = new pg.Client({ connectionString: urlFor(name) });
  await c.connect();
  try {
    await c.query('CREATE TABLE runs (id text)');
    for (let i = 0; i < runs; i++) await c.query('INSERT INTO runs VALUES ($1)', [`r_${i}`]);
  } finally {
    await c.end();
  }
}
const exists = async (name: string) => ((await adminQuery('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;

afterAll(async () => {
  for (const name of [OWN, FOREIGN]) {
    await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]).catch(() => undefined);
    await adminQuery(`DROP DATABASE IF EXISTS "${name}"`).catch(() => undefined);
  }
});

describe('sandbox state database', () => {
  it("the sandbox's own database is dropped at start (the bot recreates it empty): nothing to say", async () => {
    await withRuns(OWN, 3);
    const h = await prepareStateDatabase(urlFor(OWN), { fresh: true });
    expect(h).toEqual({ database: OWN, fresh: true, earlierRuns: 0 });
    expect(await exists(OWN)).toBe(false);
    expect(historyNote(h)).toBeUndefined();
  });

  it('kept when something is still connected to it (another sandbox), and then the note says so', async () => {
    await withRuns(OWN, 2);
    const other = new pg.Client({ connectionString: urlFor(OWN) });
    await other.connect();
    try {
      const h = await prepareStateDatabase(urlFor(OWN), { fresh: true });
      expect(h).toMatchObject({ fresh: false, earlierRuns: 2, keptBecause: 'another session is still connected to it' });
      expect(await exists(OWN)).toBe(true);
      expect(historyNote(h)).toMatch(new RegExp(`State database ${OWN} was kept .*2 run\\(s\\) from earlier sessions`));
    } finally {
      await other.end();
    }
  });

  it('a database the sandbox did not name is never dropped, and SANDBOX_KEEP_STATE keeps its own', async () => {
    await withRuns(FOREIGN, 1);
    const foreign = await prepareStateDatabase(urlFor(FOREIGN), { fresh: true });
    expect(foreign).toMatchObject({ fresh: false, earlierRuns: 1, keptBecause: expect.stringMatching(/did not create/) });
    expect(await exists(FOREIGN)).toBe(true);
    const kept = await prepareStateDatabase(urlFor(OWN), { fresh: false });
    expect(kept).toMatchObject({ fresh: false, earlierRuns: 2, keptBecause: 'SANDBOX_KEEP_STATE is set' });
  });
});
