// Before anything else: are Redis and Postgres reachable? A quick protocol-level ping (Redis
// PING, Postgres SSLRequest) within ~2 s; when one is down, ONE line says what to start and how.
// Only node: imports, so the entry can answer fast and print nothing else.
import { connect } from 'node:net';

export const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
export const START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/dbops_sandbox';

interface Endpoint {
  host: string;
  port: number;
}

function endpoint(url: string, defaultPort: number): Endpoint {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(u.port) || defaultPort };
}

/** Sends `hello`, resolves true if the first bytes back satisfy `ok` within timeoutMs. */
function ping(e: Endpoint, hello: Buffer, ok: (reply: Buffer) => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: e.host, port: e.port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(hello));
    socket.once('data', (data) => done(ok(data)));
  });
}

// "+PONG", or an error such as -NOAUTH: either way a Redis is listening.
const redisPing = (e: Endpoint, ms: number) => ping(e, Buffer.from('PING\r\n'), (r) => r[0] === 0x2b || r[0] === 0x2d, ms);
// SSLRequest: a Postgres answers a single 'S' or 'N'.
const pgPing = (e: Endpoint, ms: number) => ping(e, Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), (r) => r[0] === 0x53 || r[0] === 0x4e, ms);

/** undefined when both answer; otherwise the one line to print. */
export async function preflight(env: NodeJS.ProcessEnv, timeoutMs = 2000): Promise<string | undefined> {
  let redis: Endpoint;
  let postgres: Endpoint[];
  try {
    redis = endpoint(env.REDIS_URL || DEFAULT_REDIS_URL, 6379);
    postgres = [env.DATABASE_URL || DEFAULT_DATABASE_URL, env.DEMO_URL].filter((u): u is string => Boolean(u)).map((u) => endpoint(u, 5432));
  } catch {
    return 'REDIS_URL, DATABASE_URL or DEMO_URL is not a valid URL (e.g. redis://127.0.0.1:6379, postgres://postgres@127.0.0.1:5432/dbops_sandbox)';
  }
  const unique = postgres.filter((p, i) => postgres.findIndex((q) => q.host === p.host && q.port === p.port) === i);
  const [redisUp, ...pgUp] = await Promise.all([redisPing(redis, timeoutMs), ...unique.map((p) => pgPing(p, timeoutMs))]);
  const pgDown = unique.filter((_, i) => !pgUp[i]);
  const at = (e: Endpoint) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
  const pgWhere = pgDown.map(at).join(', ');
  if (pgDown.length && !redisUp) {
    return `PostgreSQL (${pgWhere}) and Redis (${at(redis)}) are not reachable; start them with: ${START_POSTGRES} && ${START_REDIS}`;
  }
  if (pgDown.length) return `PostgreSQL is not reachable at ${pgWhere}; start it with: ${START_POSTGRES} (or set DATABASE_URL to a running server)`;
  if (!redisUp) return `Redis is not reachable at ${at(redis)}; start it with: ${START_REDIS} (or set REDIS_URL to a running Redis)`;
  return undefined;
}
