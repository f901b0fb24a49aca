import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import net from 'node:net';
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster';

let cluster: RedisClusterHandle;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
});

afterAll(async () => {
  await client?.quit().catch(() => client.disconnect());
  await cluster?.stop();
});

describe('local Redis Cluster', () => {
  it('has three masters covering every slot', async () => {
    const slots = (await client.cluster('SLOTS')) as Array<[number, number, ...unknown[]]>;
    const covered = slots.reduce((n, [a, b]) => n + (b - a + 1), 0);
    expect(covered).toBe(16384);
    expect(new Set(slots.map((s) => JSON.stringify(s[2]))).size).toBe(3);
  });

  it('runs a script over keys sharing a hash tag, refuses keys of different tags (CROSSSLOT)', async () => {
    const ok = await client.eval("redis.call('SET', KEYS[1], '1') redis.call('SET', KEYS[2], '2') return redis.call('GET', KEYS[2])", 2, 'llg:t:rc:{a}:x', 'llg:t:rc:{a}:y');
    expect(ok).toBe('2');
    await expect(client.eval("return 1", 2, 'llg:t:rc:{a}:x', 'llg:t:rc:{b}:y')).rejects.toThrow(/CROSSSLOT/);
    await client.del('llg:t:rc:{a}:x');
    await client.del('llg:t:rc:{a}:y');
  });

  it('stop() frees the ports', async () => {
    const other = await startRedisCluster();
    await other.stop();
    for (const port of other.ports) {
      const free = await new Promise<boolean>((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
      });
      expect(free).toBe(true);
    }
  });
});
