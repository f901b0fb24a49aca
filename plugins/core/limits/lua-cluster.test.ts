/**
 * The same Lua suite as lua.test.ts against a local 3-node Redis Cluster: every key of a
 * decision carries the tenant's hash tag, so the scripts run unchanged; tenants spread over
 * the nodes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { startRedisCluster, type RedisClusterHandle } from '../../../test/harness/redis-cluster';
import { luaSuite } from './lua-suite';
import { decideRedis } from './redis';

let cluster: RedisClusterHandle;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
}, 60_000);

afterAll(async () => {
  await client?.quit().catch(() => client.disconnect());
  await cluster?.stop();
});

luaSuite('cluster', () => client);

it('tenants land on different nodes; a decision whose keys mix tags is refused (CROSSSLOT)', async () => {
  const slotsOwner = new Set<string>();
  for (const t of ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']) {
    const slot = (await client.cluster('KEYSLOT', `llg:t:lc:{${t}}:rl:x`)) as number;
    const nodes = (await client.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>;
    const owner = nodes.find(([a, b]) => slot >= a && slot <= b)!;
    slotsOwner.add(String(owner[2][1]));
  }
  expect(slotsOwner.size).toBeGreaterThan(1);
  const d = { kind: 'r' as const, alg: 'fw' as const, limit: 5, periodMs: 60_000 };
  await expect(
    decideRedis(client, { recordKey: 'llg:t:lc:{alpha}:rl:res:1', stateKey: 'llg:t:lc:{beta}:rl:state', slotKey: 'llg:t:lc:{alpha}:rl:cc', requestId: '1', dims: [d], tokens: 0, writeRecord: false, recordTtlMs: 1000 }, 1_800_000_000_000),
  ).rejects.toThrow(/CROSSSLOT/);
});
