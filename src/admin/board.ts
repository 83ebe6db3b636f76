import type { IncomingMessage, ServerResponse } from 'node:http';
import { Queue } from 'bullmq';
import { connectionOptions, MAINTENANCE_QUEUE, RUNS_QUEUE, type RedisConnection } from '../jobs/queue.js';
import type { Logger } from '../log.js';
import { authenticate, refuse, type AdminCredentials } from './auth.js';

export const ADMIN_BASE_PATH = '/admin/queues';

export interface AdminOptions extends AdminCredentials {
  /** Retries, removal, cleaning, pausing from the dashboard; read-only otherwise. */
  write: boolean;
}

export interface AdminBoard {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close: () => Promise<void>;
}

/** Whether the dashboard is configured at all: without credentials nothing is served (404). */
export function adminConfigured(o: AdminCredentials): boolean {
  return Boolean(o.token || (o.user && o.password));
}

/**
 * Bull Board over both queues (runs, maintenance) under this deployment's prefix, behind auth.
 * Loaded lazily (dynamic import): express and the board's UI cost nothing unless configured.
 * Its own Queue instances (non-blocking connections), closed with the bot.
 */
export async function startAdminBoard(conn: RedisConnection, o: AdminOptions, log: Logger): Promise<AdminBoard> {
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }, { default: express }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/express'),
    import('express'),
  ]);
  const queues = [RUNS_QUEUE, MAINTENANCE_QUEUE].map((name) => {
    const q = new Queue(name, { connection: connectionOptions(conn.url) as never, prefix: conn.prefix });
    q.on('error', (err) => log.warn({ err: err.message, queue: name }, 'admin board queue error'));
    return q;
  });
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_BASE_PATH);
  createBullBoard({
    // readOnlyMode is enforced server-side by Bull Board (405 on every write API), not only hidden in the UI.
    queues: queues.map((q) => new BullMQAdapter(q as never, { readOnlyMode: !o.write, allowRetries: o.write })),
    serverAdapter,
  });
  const web = express();
  web.disable('x-powered-by');
  web.use(ADMIN_BASE_PATH, serverAdapter.getRouter());
  const audit = log.child({ component: 'admin' });
  return {
    handle: (req, res) => {
      const a = authenticate(req, o, ADMIN_BASE_PATH);
      if (a.ok === false) return refuse(res, o);
      if (a.ok === 'redirect') {
        res.writeHead(302, { location: a.location, 'set-cookie': a.setCookie });
        res.end();
        return;
      }
      // Writes are operator actions on the queues: logged (method and path only, no bodies).
      if (req.method !== 'GET' && req.method !== 'HEAD') audit.info({ method: req.method, path: new URL(req.url ?? '/', 'http://localhost').pathname }, 'admin write request');
      web(req as never, res as never);
    },
    close: async () => {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    },
  };
}

/** Bolt customRoutes for the board: one path pattern (path-to-regexp) covering the UI, assets and API. */
export function adminRoutes(board: AdminBoard) {
  const method = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  return [
    { path: ADMIN_BASE_PATH, method, handler: board.handle },
    { path: `${ADMIN_BASE_PATH}/*rest`, method, handler: board.handle },
  ];
}
