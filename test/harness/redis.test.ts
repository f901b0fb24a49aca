import { afterAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { deleteByPrefix, redisUrl, testPrefix } from './redis';

const redis = new Redis(redisUrl());
afterAll(() => redis.disconnect());

describe('redis test helpers', () => {
  it('testPrefix is unique and shaped llg:t:<name>:<rand>:', () => {
    const a = testPrefix('my file');
    const b = testPrefix('my file');
    expect(a).toMatch(/^llg:t:my-file:[0-9a-f]{12}:$/);
    expect(a).not.toBe(b);
  });

  it('deleteByPrefix deletes only keys under the prefix (glob characters taken literally)', async () => {
    const prefix = testPrefix('helpers*[x]');
    const sibling = testPrefix('helpers');
    const keys = Array.from({ length: 1200 }, (_, i) => `${prefix}k${i}`);
    const pipe = redis.pipeline();
    for (const k of keys) pipe.set(k, '1');
    pipe.set(`${sibling}keep`, '1');
    await pipe.exec();
    expect(await deleteByPrefix(redis, prefix)).toBe(1200);
    expect(await redis.exists(keys[0]!, keys[1199]!)).toBe(0);
    expect(await redis.get(`${sibling}keep`)).toBe('1');
    expect(await deleteByPrefix(redis, sibling)).toBe(1);
  });

  it('refuses a prefix outside llg:t:', async () => {
    await expect(deleteByPrefix(redis, 'llg:')).rejects.toThrow(/refusing/);
  });
});
