// REDIS_URL forms (src/redis-url.ts) and what each becomes for BullMQ (connectionOptions) and config.
import { describe, expect, it } from 'vitest';
import { connectionOptions } from '../../src/jobs/queue.js';
import { clusterSafePrefix, describeRedis, ioredisOptions, parseRedisUrl, redisUrlSchema } from '../../src/redis-url.js';

const problem = (url: string) => {
  const r = redisUrlSchema.safeParse(url);
  return r.success ? undefined : r.error.issues.map((i) => i.message).join('; ');
};

describe('REDIS_URL parser', () => {
  it('one server: host, port, credentials, db, TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ kind: 'standalone', node: { host: '127.0.0.1', port: 6379 }, tls: false });
    expect(parseRedisUrl('redis://cache')).toMatchObject({ node: { host: 'cache', port: 6379 } });
    expect(parseRedisUrl('rediss://app:p%40ss@cache.example:6380/3')).toEqual({ kind: 'standalone', node: { host: 'cache.example', port: 6380 }, username: 'app', password: 'p@ss', db: 3, tls: true });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).toEqual({ kind: 'standalone', node: { host: '::1', port: 7000 }, password: 'secret', tls: false });
  });

  it('Sentinel: sentinels, master name, optional db and sentinel password', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1:26379,s2:26380,s3/mymaster/2?sentinelPassword=spw')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: 's3', port: 26379 }],
      name: 'mymaster',
      db: 2,
      password: 'pw',
      sentinelPassword: 'spw',
      tls: false,
    });
    expect(ioredisOptions(parseRedisUrl('rediss+sentinel://s1:26379/m'))).toEqual({ sentinels: [{ host: 's1', port: 26379 }], name: 'm', role: 'master', tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} });
  });

  it('Cluster: seed nodes, no database', () => {
    expect(parseRedisUrl('redis+cluster://n1:7000,n2:7001')).toEqual({ kind: 'cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }], tls: false });
    expect(parseRedisUrl('rediss+cluster://u:p@n1:7000')).toMatchObject({ kind: 'cluster', username: 'u', password: 'p', tls: true });
  });

  it('refuses what no client would connect to, one reason each', () => {
    expect(problem('http://cache:6379')).toMatch(/must be one of redis:\/\//);
    expect(problem('redis://a:1,b:2')).toMatch(/names one host/);
    expect(problem('redis://cache/99')).toMatch(/database "99" must be a number 0–15/);
    expect(problem('redis://cache:70000')).toMatch(/port 70000 is out of range/);
    expect(problem('redis+sentinel://s1:26379')).toMatch(/ends with \/<master name>/);
    expect(problem('redis+sentinel://s1:26379/m/1/x')).toMatch(/ends with/);
    expect(problem('redis+cluster://n1:7000/0')).toMatch(/only database 0/);
    expect(problem('redis+cluster://n1:7000?sentinelPassword=x')).toMatch(/unknown parameter "sentinelPassword"/);
    expect(problem('redis+sentinel://s1/m?password=x')).toMatch(/unknown parameter "password" \(only sentinelPassword\)/);
  });

  it('describes a URL by hosts only, never credentials', () => {
    expect(describeRedis(parseRedisUrl('redis://:pw@127.0.0.1:1'))).toBe('127.0.0.1:1');
    expect(describeRedis(parseRedisUrl('redis+sentinel://:pw@s1,s2:26380/m'))).toBe('sentinels s1:26379,s2:26380 (master "m")');
    expect(describeRedis(parseRedisUrl('redis+cluster://:pw@n1:7000'))).toBe('cluster nodes n1:7000');
  });

  it('a cluster prefix is hash-tagged unless it already is; other forms keep it', () => {
    const cluster = parseRedisUrl('redis+cluster://n1:7000');
    expect(clusterSafePrefix('dbops', cluster)).toBe('{dbops}');
    expect(clusterSafePrefix('{dbops}-blue', cluster)).toBe('{dbops}-blue');
    expect(clusterSafePrefix('dbops', parseRedisUrl('redis+sentinel://s1/m'))).toBe('dbops');
  });
});

describe('connectionOptions', () => {
  it('keeps the blocking/non-blocking split for every form', () => {
    expect(connectionOptions('redis://:pw@h:6380/1')).toEqual({ host: 'h', port: 6380, password: 'pw', db: 1, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000 });
    expect(connectionOptions('redis+sentinel://s1/m', true)).toMatchObject({ sentinels: [{ host: 's1', port: 26379 }], name: 'm', maxRetriesPerRequest: null, enableOfflineQueue: true });
    const c = connectionOptions('redis+cluster://n1:7000', true);
    // The seed nodes ride on a symbol key: BullMQ's option merge keeps them, JSON and logs do not show them.
    expect(Object.getOwnPropertySymbols(c).length).toBe(1);
    expect(c).toMatchObject({ maxRetriesPerRequest: null });
  });
});
