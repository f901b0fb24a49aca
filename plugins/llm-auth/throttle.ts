/**
 * Failed-authentication throttling per client IP: N failures within a window block the IP for a
 * while (429). The block is checked in-process before any credential is verified (no Redis round
 * trip on the hot path); failures are counted in Redis when configured — so all nodes share the
 * count and each node learns of a block at the next failure it sees — else in-process.
 */
import { LRUCache } from 'lru-cache';
import { getRedis, redisRegistryKey, type RedisSettings } from '../core/redis/client';
import { callRedis } from '../core/redis/fallback';
import { RedisScript } from '../core/redis/script';

export interface ThrottleSettings {
  max_failures: number;
  window_seconds: number;
  block_seconds: number;
}

/** In-process counters and blocks (pure: time is a parameter). */
export class LocalThrottle {
  private readonly failures = new LRUCache<string, { start: number; count: number }>({ max: 50_000 });
  private readonly blocks = new LRUCache<string, number>({ max: 50_000 });

  blockedFor(ip: string, now: number): number {
    const until = this.blocks.get(ip);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blocks.delete(ip);
      return 0;
    }
    return until - now;
  }

  block(ip: string, until: number): void {
    const prev = this.blocks.get(ip) ?? 0;
    if (until > prev) this.blocks.set(ip, until);
  }

  /** Count one failure; returns the block length (ms) when this failure reached the limit. */
  recordFailure(ip: string, now: number, s: ThrottleSettings): number {
    const w = this.failures.get(ip);
    const entry = w && now - w.start < s.window_seconds * 1000 ? w : { start: now, count: 0 };
    entry.count++;
    this.failures.set(ip, entry);
    if (entry.count >= s.max_failures) {
      this.failures.delete(ip);
      this.block(ip, now + s.block_seconds * 1000);
      return s.block_seconds * 1000;
    }
    return 0;
  }
}

// KEYS[1] failure counter, KEYS[2] block flag (same hash tag). ARGV: max, window ms, block ms.
// Returns the remaining block in ms (0 = not blocked).
const FAILURE_SCRIPT = new RedisScript(
  'llm-auth-failure',
  `local b = redis.call('PTTL', KEYS[2])
if b > 0 then return b end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[3])
end
return 0`,
);

const locals = new Map<string, LocalThrottle>();

/** One in-process throttle per Redis settings + prefix (or per prefix without Redis). */
export function localThrottle(id: string): LocalThrottle {
  let t = locals.get(id);
  if (!t) {
    t = new LocalThrottle();
    locals.set(id, t);
  }
  return t;
}

export class Throttle {
  readonly local: LocalThrottle;
  constructor(readonly settings: ThrottleSettings, readonly prefix: string, readonly redis?: RedisSettings) {
    this.local = localThrottle((redis ? redisRegistryKey(redis) : 'local') + '|' + prefix);
  }

  blockedFor(ip: string, now: number): number {
    return this.local.blockedFor(ip, now);
  }

  /** Count a failure (Redis when configured; local when Redis fails or is absent). */
  async recordFailure(ip: string, now: number): Promise<void> {
    const s = this.settings;
    if (this.redis) {
      const tag = `${this.prefix}{authfail:${ip}}`;
      try {
        const { value } = await callRedis(getRedis(this.redis), (r) => FAILURE_SCRIPT.run(r, [`${tag}:n`, `${tag}:block`], [s.max_failures, s.window_seconds * 1000, s.block_seconds * 1000]));
        const ms = Number(value);
        if (ms > 0) this.local.block(ip, now + ms);
        return;
      } catch {
        /* Redis unavailable: count locally */
      }
    }
    this.local.recordFailure(ip, now, s);
  }
}
