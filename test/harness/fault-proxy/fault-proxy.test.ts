import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { Client } from 'pg';
import { startFaultProxy, type FaultProxy } from './index';
import { createTestDatabase, type TestDatabase } from '../pg';

const REDIS = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');

function redisVia(proxy: FaultProxy, extra: Partial<import('ioredis').RedisOptions> = {}): Redis {
  const r = new Redis({
    host: proxy.host,
    port: proxy.port,
    commandTimeout: 400,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
    lazyConnect: true,
    ...extra,
  });
  r.on('error', () => undefined); // expected in these drills; assertions look at command results
  return r;
}

async function eventually<T>(fn: () => Promise<T>, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('fault proxy in front of Redis', () => {
  let proxy: FaultProxy;
  const clients: Redis[] = [];
  beforeAll(async () => {
    proxy = await startFaultProxy({ targetHost: REDIS.hostname, targetPort: Number(REDIS.port || 6379) });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
    proxy.setMode('pass');
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('pass → blackhole (times out) → pass (works again, same client)', async () => {
    const r = redisVia(proxy);
    clients.push(r);
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    expect(proxy.mode).toBe('pass');

    proxy.setMode('blackhole');
    await expect(r.ping()).rejects.toThrow(/timed out/i);
    // A new connection is accepted but nothing flows.
    const fresh = redisVia(proxy);
    clients.push(fresh);
    await expect(fresh.connect()).rejects.toThrow();

    proxy.setMode('pass');
    // Held bytes are delivered in order: the stream stays in sync and later commands answer.
    expect(await eventually(() => r.echo('after-blackhole'))).toBe('after-blackhole');
    const fresh2 = redisVia(proxy);
    clients.push(fresh2);
    await fresh2.connect();
    expect(await fresh2.ping()).toBe('PONG');
  });

  it('reset: existing connections error, new ones are refused; pass recovers', async () => {
    const r = redisVia(proxy);
    clients.push(r);
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    const closed = new Promise<void>((resolve) => r.once('close', () => resolve()));
    proxy.setMode('reset');
    await closed;
    await expect(r.ping()).rejects.toThrow();
    const fresh = redisVia(proxy, { retryStrategy: () => null });
    clients.push(fresh);
    await expect(fresh.connect()).rejects.toThrow();

    proxy.setMode('pass');
    // The original client reconnects by itself (retryStrategy) and works again.
    expect(await eventually(() => r.ping())).toBe('PONG');
    const fresh2 = redisVia(proxy);
    clients.push(fresh2);
    await fresh2.connect();
    expect(await fresh2.ping()).toBe('PONG');
  });

  it('delay: commands still work, each round trip takes at least the delay both ways', async () => {
    const r = redisVia(proxy, { commandTimeout: 5_000 });
    clients.push(r);
    await r.connect();
    proxy.setMode('delay', { delayMs: 100 });
    expect(proxy.delayMs).toBe(100);
    const t0 = Date.now();
    expect(await r.ping()).toBe('PONG');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180); // request + reply, 100 ms each
    // Pipelined commands keep their order.
    const results = await Promise.all([r.echo('1'), r.echo('2'), r.echo('3')]);
    expect(results).toEqual(['1', '2', '3']);
  });

  it('stop() closes every connection', async () => {
    const p2 = await startFaultProxy({ targetHost: REDIS.hostname, targetPort: Number(REDIS.port || 6379) });
    const r = redisVia(p2, { retryStrategy: () => null });
    clients.push(r);
    await r.connect();
    expect(p2.connections).toBe(1);
    const closed = new Promise<void>((resolve) => r.once('end', () => resolve()));
    await p2.stop();
    await closed;
    await expect(r.ping()).rejects.toThrow();
  });
});

describe('fault proxy in front of Postgres', () => {
  let proxy: FaultProxy;
  let db: TestDatabase;
  const clients: Client[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('fault_proxy');
    const u = new URL(db.url);
    proxy = await startFaultProxy({ targetHost: u.hostname, targetPort: Number(u.port || 5432) });
  });
  afterEach(async () => {
    proxy.setMode('pass');
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  });
  afterAll(async () => {
    await proxy.stop();
    await db.drop();
  });

  const connect = async (): Promise<Client> => {
    const u = new URL(db.url);
    u.hostname = proxy.host;
    u.port = String(proxy.port);
    const c = new Client({ connectionString: u.toString(), connectionTimeoutMillis: 1_000, query_timeout: 500 });
    c.on('error', () => undefined);
    clients.push(c);
    await c.connect();
    return c;
  };

  it('pass works; blackhole times out queries and new connects; pass recovers for new clients', async () => {
    const c = await connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    proxy.setMode('blackhole');
    await expect(c.query('SELECT 2')).rejects.toThrow(/timeout/i);
    await expect(connect()).rejects.toThrow(/timeout/i);
    proxy.setMode('pass');
    const c2 = await connect();
    expect((await c2.query('SELECT current_database() AS db')).rows[0].db).toBe(db.name);
  });

  it('reset: the open connection errors, new connects fail; pass recovers', async () => {
    const c = await connect();
    await c.query('SELECT 1');
    const errored = new Promise<Error>((resolve) => c.once('error', resolve));
    proxy.setMode('reset');
    expect(await errored).toBeInstanceOf(Error);
    await expect(c.query('SELECT 1')).rejects.toThrow();
    await expect(connect()).rejects.toThrow();
    proxy.setMode('pass');
    const c2 = await connect();
    expect((await c2.query('SELECT 41 + 1 AS n')).rows[0].n).toBe(42);
  });

  it('delay: queries still answer', async () => {
    const c = await connect();
    proxy.setMode('delay', { delayMs: 50 });
    const res = await c.query({ text: 'SELECT $1::text AS v', values: ['x'], query_timeout: 5_000 } as never);
    expect((res as { rows: Array<{ v: string }> }).rows[0]!.v).toBe('x');
  });
});
