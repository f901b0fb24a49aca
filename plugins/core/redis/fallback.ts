/**
 * Running a Redis operation with a fail-fast breaker and an optional local fallback.
 *
 * When Redis is unreachable, each command would cost its full timeout; after one failure the
 * breaker sends requests straight to the fallback (or to a 503) for `openMs`, then lets traffic
 * probe Redis again, so recovery needs no restart. State is module-level, keyed by the client.
 */
import type { RedisClient } from './client';

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

interface BreakerState {
  openUntil: number;
  failures: number;
}

const breakers = new WeakMap<RedisClient, BreakerState>();

function stateOf(redis: RedisClient): BreakerState {
  let s = breakers.get(redis);
  if (!s) {
    s = { openUntil: 0, failures: 0 };
    breakers.set(redis, s);
  }
  return s;
}

export interface RedisCallOptions<T> {
  /** Called when Redis is unavailable (breaker open or the call failed); undefined = fail closed. */
  fallback?: () => T | Promise<T>;
  /** How long the breaker stays open after a failure (ms). */
  openMs?: number;
  now?: () => number;
  /** Told about each switch to the fallback (for a log line). */
  onFallback?: (reason: 'breaker_open' | 'error', error?: unknown) => void;
}

export interface RedisCallResult<T> {
  value: T;
  via: 'redis' | 'local';
}

export async function callRedis<T>(redis: RedisClient, op: (redis: RedisClient) => Promise<T>, opts: RedisCallOptions<T> = {}): Promise<RedisCallResult<T>> {
  const now = opts.now ?? Date.now;
  const state = stateOf(redis);
  if (state.openUntil > now()) {
    opts.onFallback?.('breaker_open');
    if (opts.fallback) return { value: await opts.fallback(), via: 'local' };
    throw new RedisUnavailableError('redis breaker open');
  }
  try {
    const value = await op(redis);
    state.failures = 0;
    return { value, via: 'redis' };
  } catch (e) {
    state.failures++;
    state.openUntil = now() + (opts.openMs ?? 1000);
    opts.onFallback?.('error', e);
    if (opts.fallback) return { value: await opts.fallback(), via: 'local' };
    throw new RedisUnavailableError('redis call failed');
  }
}

/** Whether the breaker for this client is open now (for metrics and tests). */
export function breakerOpen(redis: RedisClient, now = Date.now()): boolean {
  return stateOf(redis).openUntil > now;
}
