import Redis from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAllRedis } from '../core/redis/client';
import { deleteByPrefix, redisUrl, testPrefix } from '../../test/harness/redis';
import { LocalThrottle, Throttle } from './throttle';

const prefix = testPrefix('llm-auth-throttle');
const redis = new Redis(redisUrl());
const s = { max_failures: 3, window_seconds: 60, block_seconds: 30 };
afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
  await closeAllRedis();
});

describe('failed-auth throttling', () => {
  it('local: N failures within the window block the IP for block_seconds; other IPs unaffected', () => {
    const t = new LocalThrottle();
    t.recordFailure('1.1.1.1', 0, s);
    t.recordFailure('1.1.1.1', 1000, s);
    expect(t.blockedFor('1.1.1.1', 1000)).toBe(0);
    t.recordFailure('1.1.1.1', 2000, s);
    expect(t.blockedFor('1.1.1.1', 2000)).toBe(30_000);
    expect(t.blockedFor('2.2.2.2', 2000)).toBe(0);
    expect(t.blockedFor('1.1.1.1', 32_000)).toBe(0);
  });

  it('local: failures outside the window do not add up', () => {
    const t = new LocalThrottle();
    t.recordFailure('1.1.1.1', 0, s);
    t.recordFailure('1.1.1.1', 1000, s);
    t.recordFailure('1.1.1.1', 61_000, s);
    expect(t.blockedFor('1.1.1.1', 61_000)).toBe(0);
  });

  it('Redis: the count is shared between nodes; a node learns of a block at its next failure', async () => {
    const settings = { host: '127.0.0.1', port: 6379 };
    const nodeA = new Throttle(s, prefix + 'a:', settings);
    const nodeB = new Throttle(s, prefix + 'a:', settings);
    // Same settings + prefix share the in-process state in one process; use distinct locals to act as two nodes.
    const localB = new LocalThrottle();
    Object.defineProperty(nodeB, 'local', { value: localB });
    const now = Date.now();
    await nodeA.recordFailure('9.9.9.9', now);
    await nodeB.recordFailure('9.9.9.9', now);
    expect(nodeA.blockedFor('9.9.9.9', now)).toBe(0);
    await nodeA.recordFailure('9.9.9.9', now);
    expect(nodeA.blockedFor('9.9.9.9', now)).toBeGreaterThan(29_000);
    expect(nodeB.blockedFor('9.9.9.9', now)).toBe(0);
    await nodeB.recordFailure('9.9.9.9', now);
    expect(nodeB.blockedFor('9.9.9.9', now)).toBeGreaterThan(29_000);
  });

  it('Redis unreachable: failures are counted locally', async () => {
    const t = new Throttle(s, prefix + 'b:', { host: '127.0.0.1', port: 1, connect_timeout_ms: 100, command_timeout_ms: 100 });
    const now = Date.now();
    for (let i = 0; i < 3; i++) await t.recordFailure('8.8.8.8', now);
    expect(t.blockedFor('8.8.8.8', now)).toBe(30_000);
  });
});
