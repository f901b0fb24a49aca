/**
 * Redis helpers for tests. The machine's Redis is shared by parallel test files: each file uses its
 * own key prefix and deletes only its own keys (never FLUSHDB / FLUSHALL).
 *
 *   const prefix = testPrefix('token-limit');      // llg:t:token-limit:<random>:
 *   const redis = new Redis(redisUrl());
 *   afterAll(async () => { await deleteByPrefix(redis, prefix); redis.disconnect(); });
 */
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';

export function redisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

/** `llg:t:<name>:<random>:` — unique per call. */
export function testPrefix(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '-');
  return `llg:t:${safe}:${randomBytes(6).toString('hex')}:`;
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Deletes every key starting with `prefix` (SCAN + UNLINK). Returns how many were deleted. */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  if (!prefix.startsWith('llg:t:')) throw new Error('deleteByPrefix: refusing a prefix outside llg:t:');
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
