import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, keyRecordRedisKey, revocationChannel, type KeyRecord } from '../core/keys';
import { closeAllRedis } from '../core/redis/client';
import { deleteByPrefix, redisUrl, testPrefix } from '../../test/harness/redis';
import { startFaultProxy, type FaultProxy } from '../../test/harness/fault-proxy';
import { KeyCache } from './keycache';
import { closeKeyStores, KeyStore } from './keystore';

const prefix = testPrefix('llm-auth-keystore');
const redis = new Redis(redisUrl());
const settings = { host: '127.0.0.1', port: 6379, connect_timeout_ms: 1000, command_timeout_ms: 2000 };
const opts = { maxEntries: 100, ttlMs: 30_000, negativeTtlMs: 2_000 };

function record(over: Partial<KeyRecord> = {}): KeyRecord {
  return { v: 1, key_id: 'k1', tenant_id: 'acme', lineage_id: 'lin1', prefix: 'lg_live_AbCd', revoked: false, ...over };
}

async function until(cond: () => boolean, ms = 1000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
  await closeKeyStores();
  await closeAllRedis();
});

describe('KeyCache (pure)', () => {
  it('honours positive and negative TTLs and its bound', () => {
    const c = new KeyCache(2);
    c.set('a', record(), 1000, c.begin());
    c.set('b', null, 1000, c.begin());
    expect(c.get('a', 1500, 1000, 100)).toEqual({ hit: true, record: record() });
    expect(c.get('b', 1050, 1000, 100)).toEqual({ hit: true, record: null });
    expect(c.get('b', 1100, 1000, 100)).toEqual({ hit: false });
    expect(c.get('a', 2000, 1000, 100)).toEqual({ hit: false });
    c.set('x', null, 0, c.begin());
    c.set('y', null, 0, c.begin());
    c.set('z', null, 0, c.begin());
    expect(c.size).toBe(2);
  });

  it('a fetch that raced a revocation is not cached', () => {
    const c = new KeyCache(10);
    const epoch = c.begin();
    c.drop('h');
    c.set('h', record(), 0, epoch);
    expect(c.get('h', 1, 1000, 1000)).toEqual({ hit: false });
    const e2 = c.begin();
    c.set('h', record(), 0, e2);
    expect(c.get('h', 1, 1000, 1000).hit).toBe(true);
  });
});

describe('KeyStore against real Redis', () => {
  it('finds a record, caches it, and answers unknown keys (cached briefly)', async () => {
    const store = new KeyStore(settings, prefix, opts);
    const k = generateApiKey();
    await redis.set(keyRecordRedisKey(prefix, k.hash), JSON.stringify(record()));
    const now = Date.now();
    expect(await store.lookup(k.hash, now)).toMatchObject({ status: 'found', cached: false, record: { tenant_id: 'acme' } });
    expect(await store.lookup(k.hash, now + 10)).toMatchObject({ status: 'found', cached: true });
    const unknown = generateApiKey();
    expect(await store.lookup(unknown.hash, now)).toEqual({ status: 'unknown', cached: false });
    // Created meanwhile: still unknown until the negative TTL passes.
    await redis.set(keyRecordRedisKey(prefix, unknown.hash), JSON.stringify(record({ key_id: 'k2' })));
    expect(await store.lookup(unknown.hash, now + 100)).toEqual({ status: 'unknown', cached: true });
    expect(await store.lookup(unknown.hash, now + opts.negativeTtlMs)).toMatchObject({ status: 'found', record: { key_id: 'k2' } });
  });

  it('concurrent misses for one key share one Redis GET', async () => {
    const store = new KeyStore(settings, prefix, { ...opts, maxEntries: 101 });
    const k = generateApiKey();
    await redis.set(keyRecordRedisKey(prefix, k.hash), JSON.stringify(record({ key_id: 'k_sf' })));
    const monitor = await redis.duplicate();
    const gets: string[] = [];
    await monitor.monitor().then((m) => m.on('monitor', (_t: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'get' && args[1] === keyRecordRedisKey(prefix, k.hash)) gets.push(args[1]);
    }));
    await new Promise((r) => setTimeout(r, 50));
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.lookup(k.hash, now)));
    expect(results.every((r) => r.status === 'found')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(gets.length).toBe(1);
    monitor.disconnect();
  });

  it('drops a revoked key from the cache within 1 s of the pub/sub message, and `*` drops all', async () => {
    const store = new KeyStore(settings, prefix, opts);
    await store.subscribed();
    const k = generateApiKey();
    const other = generateApiKey();
    await redis.set(keyRecordRedisKey(prefix, k.hash), JSON.stringify(record()));
    await redis.set(keyRecordRedisKey(prefix, other.hash), JSON.stringify(record({ key_id: 'k3' })));
    expect((await store.lookup(k.hash, Date.now())).status).toBe('found');
    expect((await store.lookup(other.hash, Date.now())).status).toBe('found');
    // The control plane marks the record revoked, then publishes.
    await redis.set(keyRecordRedisKey(prefix, k.hash), JSON.stringify(record({ revoked: true })));
    await redis.publish(revocationChannel(prefix), k.hash);
    const waited = await until(() => store.cache.get(k.hash, Date.now(), opts.ttlMs, opts.negativeTtlMs).hit === false);
    expect(waited).toBeLessThan(1000);
    expect(await store.lookup(k.hash, Date.now())).toMatchObject({ status: 'found', record: { revoked: true } });
    expect(store.cache.get(other.hash, Date.now(), opts.ttlMs, opts.negativeTtlMs).hit).toBe(true);
    await redis.publish(revocationChannel(prefix), '*');
    await until(() => store.cache.size === 0);
  });

  describe('Redis down', () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: 6379 });
    });
    afterAll(async () => {
      await proxy.stop();
    });

    it('a cached key is served until its TTL; an uncached one is unavailable (never allowed)', async () => {
      const s = { host: proxy.host, port: proxy.port, connect_timeout_ms: 1000, command_timeout_ms: 1000 };
      const store = new KeyStore(s, prefix, { ...opts, ttlMs: 5_000 });
      const k = generateApiKey();
      await redis.set(keyRecordRedisKey(prefix, k.hash), JSON.stringify(record()));
      const t0 = Date.now();
      expect((await store.lookup(k.hash, t0)).status).toBe('found');
      proxy.setMode('reset');
      expect(await store.lookup(k.hash, t0 + 4_000)).toMatchObject({ status: 'found', cached: true });
      expect(await store.lookup(k.hash, t0 + 5_000)).toEqual({ status: 'unavailable' });
      expect(await store.lookup(generateApiKey().hash, t0 + 10)).toEqual({ status: 'unavailable' });
      proxy.setMode('pass');
    });
  });
});
