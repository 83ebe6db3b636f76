import type pg from 'pg';

// One lookup per session: the server's version cannot change under an open connection.
const cache = new WeakMap<pg.Client, number>();

/** server_version_num of the connected server (e.g. 150020 for 15.20). */
export async function serverVersionNum(client: pg.Client): Promise<number> {
  const hit = cache.get(client);
  if (hit !== undefined) return hit;
  const r = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  const v = r.rows[0]?.v ?? 0;
  cache.set(client, v);
  return v;
}
