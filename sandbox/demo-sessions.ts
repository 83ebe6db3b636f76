// Sessions on the demo database that the page opens on demand, so connections/locks/kill have
// something real to find: idle, idle in transaction (holding a lock on orders), a blocking pair
// (one transaction holds a row lock, another waits for it) and an old snapshot (a REPEATABLE READ
// report left open, which pins dead tuples for VACUUM). Held by the sandbox process.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { SANDBOX_APP } from './demo-db.js';

export const DEMO_APP = 'demo-app';
/** The old-snapshot session's application_name: a report someone forgot to finish. */
export const REPORT_APP = 'demo-report';
export type DemoKind = 'idle' | 'idle-in-transaction' | 'blocking' | 'snapshot';
export const DEMO_KINDS: readonly DemoKind[] = ['idle', 'idle-in-transaction', 'blocking', 'snapshot'];
/** Rows one "delete rows" removes from orders: few enough to repeat, enough to see pinned. */
export const DELETE_BATCH = 2000;

export interface DeletedRows {
  deleted: number;
  /** Open old-snapshot sessions: while one is, VACUUM has to keep the rows just deleted. */
  holders: DemoSession[];
}

export interface DemoSession {
  id: number;
  kind: DemoKind | 'waiting';
  pid: number;
  application: string;
  /** What pg_stat_activity will show. */
  state: string;
}

interface Held extends DemoSession {
  client: pg.Client;
}

export class DemoSessions {
  readonly events = new EventEmitter<{ change: [DemoSession[]] }>();
  private readonly held = new Map<number, Held>();
  private seq = 0;

  constructor(private readonly url: string) {}

  list(): DemoSession[] {
    return [...this.held.values()].map(({ client: _c, ...s }) => s);
  }

  /** Opens one session of `kind` (two for `blocking`); resolves once it is in that state. */
  async open(kind: DemoKind): Promise<DemoSession[]> {
    if (kind === 'idle') {
      const s = await this.connect('idle', DEMO_APP, 'idle');
      await s.client.query('SELECT 1');
      return this.opened([s]);
    }
    if (kind === 'idle-in-transaction') {
      const s = await this.connect('idle-in-transaction', DEMO_APP, 'idle in transaction');
      await s.client.query('BEGIN');
      await s.client.query('SELECT count(*) FROM orders');
      return this.opened([s]);
    }
    if (kind === 'snapshot') {
      // REPEATABLE READ keeps the transaction's first snapshot until it ends, so its backend_xmin
      // stays put and every row deleted after it is still visible to it: VACUUM must keep them.
      // It reads customers, not orders: it pins orders' dead tuples without locking that table.
      const s = await this.connect('snapshot', REPORT_APP, 'idle in transaction (holding a snapshot)');
      await s.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await s.client.query('SELECT count(*) FROM customers');
      return this.opened([s]);
    }
    const blocker = await this.connect('blocking', DEMO_APP, 'idle in transaction (blocking)');
    await blocker.client.query('BEGIN');
    await blocker.client.query("UPDATE customers SET name = name || '' WHERE id = 1");
    const waiter = await this.connect('waiting', `${DEMO_APP}-worker`, 'active (waiting for a lock)');
    // Never resolves while the blocker holds the row; fails quietly when either is killed.
    waiter.client.query("UPDATE customers SET email = email WHERE id = 1").catch(() => undefined);
    await this.waitUntilBlocked(waiter.pid);
    return this.opened([blocker, waiter]);
  }

  /**
   * Deletes the newest DELETE_BATCH orders in one short transaction of its own: fresh dead tuples
   * that only a snapshot taken before this can still see (the start-up ones predate any snapshot).
   */
  async deleteRows(): Promise<DeletedRows> {
    const client = new pg.Client({ connectionString: this.url, application_name: DEMO_APP, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query("SET statement_timeout = '10s'");
      const r = await client.query('DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY id DESC LIMIT $1)', [DELETE_BATCH]);
      return { deleted: r.rowCount ?? 0, holders: this.list().filter((s) => s.kind === 'snapshot') };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Closes every held session (or those of one kind). */
  async close(kind?: DemoKind): Promise<void> {
    const closing = [...this.held.values()].filter((s) => !kind || s.kind === kind || (kind === 'blocking' && s.kind === 'waiting'));
    for (const s of closing) this.held.delete(s.id);
    await Promise.all(closing.map((s) => s.client.end().catch(() => undefined)));
    if (closing.length) this.changed();
  }

  private async connect(kind: Held['kind'], application: string, state: string): Promise<Held> {
    const client = new pg.Client({ connectionString: this.url, application_name: application, connectionTimeoutMillis: 5000 });
    const id = ++this.seq;
    // A session killed by the bot ends here: forget it and tell the page.
    const gone = () => {
      if (this.held.delete(id)) this.changed();
    };
    client.on('error', gone);
    client.on('end', gone);
    await client.connect();
    await client.query("SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0");
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const held: Held = { id, kind, pid, application, state, client };
    this.held.set(id, held);
    return held;
  }

  private async waitUntilBlocked(pid: number): Promise<void> {
    const probe = new pg.Client({ connectionString: this.url, application_name: SANDBOX_APP });
    probe.on('error', () => undefined);
    await probe.connect();
    try {
      for (let i = 0; i < 50; i++) {
        const r = await probe.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [pid]);
        if (r.rowCount) return;
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      await probe.end().catch(() => undefined);
    }
  }

  private opened(sessions: Held[]): DemoSession[] {
    this.changed();
    return sessions.map(({ client: _c, ...s }) => s);
  }

  private changed(): void {
    this.events.emit('change', this.list());
  }
}
