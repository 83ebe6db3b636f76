import { z } from 'zod';

/**
 * REDIS_URL, parsed once for every Redis client dbops opens (BullMQ queues and workers through
 * src/jobs/queue.ts `connectionOptions`, the edge client in src/redis.ts). Three forms:
 *
 *   redis[s]://[[user]:password@]host[:port][/db]                     one server
 *   redis[s]+sentinel://[[user]:password@]h1:26379,h2:26379/master[/db][?sentinelPassword=…]
 *   redis[s]+cluster://[[user]:password@]h1:7000,h2:7001              Redis Cluster (seed nodes)
 *
 * `rediss` means TLS to the Redis nodes (and, for Sentinel, to the sentinels too). The password in the
 * URL is the Redis nodes' AUTH; a Sentinel's own password, when it has one, is `sentinelPassword`.
 * ioredis speaks all three; these URL forms are ours (ioredis only parses the first), so they are
 * validated here with one message per mistake rather than failing later inside a client.
 */

export interface RedisNode {
  host: string;
  port: number;
}

interface Common {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | (Common & { kind: 'standalone'; node: RedisNode; db?: number })
  | (Common & { kind: 'sentinel'; sentinels: RedisNode[]; name: string; db?: number; sentinelPassword?: string })
  | (Common & { kind: 'cluster'; nodes: RedisNode[] });

const FORM = /^(rediss?)(?:\+(sentinel|cluster))?:\/\/(?:([^@/]*)@)?([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/;
const FORMS = 'redis://host:6379, rediss://…, redis+sentinel://h1:26379,h2:26379/mymaster or redis+cluster://h1:7000,h2:7001';
const defaultPort = { standalone: 6379, sentinel: 26379, cluster: 6379 } as const;

function parseNode(s: string, port: number): RedisNode | string {
  // [v6]:port, host:port or host alone.
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(s);
  if (!m) return `"${s}" is not host[:port]`;
  const p = m[3] === undefined ? port : Number(m[3]);
  if (p < 1 || p > 65535) return `port ${m[3]} is out of range`;
  return { host: m[1] ?? m[2]!, port: p };
}

const dbIndex = (s: string): number | string => (/^\d{1,2}$/.test(s) && Number(s) <= 15 ? Number(s) : `database "${s}" must be a number 0–15`);

export const redisUrlSchema = z.string().transform((url, ctx): RedisTarget => {
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  const m = FORM.exec(url.trim());
  if (!m) return fail(`must be one of ${FORMS}`);
  const [, scheme, variant, auth, hostList, path = '', query = ''] = m;
  const kind = (variant ?? 'standalone') as RedisTarget['kind'];
  const common: Common = { tls: scheme === 'rediss' };
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    const user = decodeURIComponent(i < 0 ? auth : auth.slice(0, i));
    const pass = i < 0 ? '' : decodeURIComponent(auth.slice(i + 1));
    // `redis://secret@host` is how many tools write a password-only URL; ioredis reads it as a username,
    // which Redis ACL then rejects. Both readings exist; ours follows ioredis (user before the colon).
    if (user) common.username = user;
    if (pass) common.password = pass;
  }
  const nodes: RedisNode[] = [];
  for (const part of hostList!.split(',')) {
    const n = parseNode(part.trim(), defaultPort[kind]);
    if (typeof n === 'string') return fail(n);
    nodes.push(n);
  }
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  const known = kind === 'sentinel' ? ['sentinelPassword'] : [];
  for (const k of params.keys()) if (!known.includes(k)) return fail(`unknown parameter "${k}"${known.length ? ` (only ${known.join(', ')})` : ''}`);

  if (kind === 'standalone') {
    if (nodes.length !== 1) return fail('a redis:// URL names one host; use redis+sentinel:// or redis+cluster:// for several');
    if (segments.length > 1) return fail('the path is only a database number');
    const db = segments[0] === undefined ? undefined : dbIndex(segments[0]);
    if (typeof db === 'string') return fail(db);
    return { ...common, kind, node: nodes[0]!, ...(db !== undefined ? { db } : {}) };
  }
  if (kind === 'sentinel') {
    const [name, dbs, ...rest] = segments;
    if (!name || rest.length) return fail('a sentinel URL ends with /<master name>[/<db>], e.g. redis+sentinel://h1:26379,h2:26379/mymaster');
    const db = dbs === undefined ? undefined : dbIndex(dbs);
    if (typeof db === 'string') return fail(db);
    const sentinelPassword = params.get('sentinelPassword') ?? undefined;
    return { ...common, kind, sentinels: nodes, name, ...(db !== undefined ? { db } : {}), ...(sentinelPassword ? { sentinelPassword } : {}) };
  }
  // Redis Cluster has only database 0, so a path is a mistake, not something to ignore.
  if (segments.length) return fail('a cluster URL has no path: Redis Cluster has only database 0');
  return { ...common, kind, nodes };
});

/** Parses REDIS_URL; throws an Error naming the problem (config.ts validates earlier, with the same schema). */
export function parseRedisUrl(url: string): RedisTarget {
  const r = redisUrlSchema.safeParse(url);
  if (!r.success) throw new Error(`REDIS_URL: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

/** Where the URL points, for messages: hosts and ports only, never credentials. */
export function describeRedis(t: RedisTarget): string {
  const list = (ns: RedisNode[]) => ns.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  if (t.kind === 'standalone') return list([t.node]);
  if (t.kind === 'sentinel') return `sentinels ${list(t.sentinels)} (master "${t.name}")`;
  return `cluster nodes ${list(t.nodes)}`;
}

/**
 * BullMQ on a Cluster keeps each queue's keys in one slot only when the prefix is a hash tag
 * (`{dbops}`): its Lua scripts touch many keys of a queue at once. A prefix that already has a
 * `{…}` tag is kept as written.
 */
export function clusterSafePrefix(prefix: string, t: RedisTarget): string {
  if (t.kind !== 'cluster' || /\{[^}]+\}/.test(prefix)) return prefix;
  return `{${prefix}}`;
}

/** Options for `new Redis(...)` (one server or Sentinel) or, under `redisOptions`, each Cluster node. */
export function ioredisOptions(t: RedisTarget): Record<string, unknown> {
  const auth = { ...(t.username ? { username: t.username } : {}), ...(t.password ? { password: t.password } : {}) };
  const tls = t.tls ? { tls: {} } : {};
  if (t.kind === 'standalone') return { host: t.node.host, port: t.node.port, ...auth, ...tls, ...(t.db !== undefined ? { db: t.db } : {}) };
  if (t.kind === 'sentinel') {
    return {
      sentinels: t.sentinels,
      name: t.name,
      role: 'master',
      ...auth,
      ...tls,
      // rediss+sentinel: the sentinels speak TLS too (ioredis keeps the two settings apart).
      ...(t.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      ...(t.sentinelPassword ? { sentinelPassword: t.sentinelPassword } : {}),
      ...(t.db !== undefined ? { db: t.db } : {}),
    };
  }
  return { ...auth, ...tls };
}
