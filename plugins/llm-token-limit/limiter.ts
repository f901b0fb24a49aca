/**
 * Runs a plan's decision and settlement on Redis (one script call per hash tag) or on the
 * in-process engine: `policy: local`, or `policy: redis` with `fault_tolerant` while Redis is
 * unreachable (the breaker in core/redis/fallback.ts keeps a dead Redis from costing a timeout
 * per request, and lets traffic probe it again, so recovery needs no restart).
 *
 * The local store is module-level (one per plugin-server process, shared by every instance):
 * the same keys and limits as in Redis, counted per process.
 */
import { getRedis, type RedisSettings } from '../core/redis/client';
import { callRedis } from '../core/redis/fallback';
import { toRedisSettings } from '../core/redis/schema';
import { decideLocal, MemoryStore, settleLocal, type DecideArgs, type DecideResult, type SettleMode } from '../core/limits/engine';
import { decideRedis, settleRedis } from '../core/limits/redis';
import type { CallPlan } from './plan';
import type { TokenLimitConfig } from './schema';

const local = new MemoryStore();

/** For tests and the benchmark. */
export function localStore(): MemoryStore {
  return local;
}

/**
 * Test-only clock: when the plugin server's environment sets LLG_LIMIT_TEST_NOW_MS, decisions
 * use that time (passed to the script as its `now` override) instead of Redis TIME. Read once:
 * the plugin server's environment is fixed when it starts.
 */
const TEST_NOW = ((v) => {
  const n = Number(v);
  return v && Number.isFinite(n) && n > 0 ? n : undefined;
})(process.env.LLG_LIMIT_TEST_NOW_MS);

export function testNow(): number | undefined {
  return TEST_NOW;
}

export function redisSettings(cfg: TokenLimitConfig): RedisSettings {
  return toRedisSettings(cfg.redis);
}

export interface Decision {
  result: DecideResult;
  via: 'redis' | 'local';
  /** Redis became unreachable during this call (log it once). */
  fellBack: boolean;
}

function decideArgs(call: CallPlan, tokens: number, requestId: string): DecideArgs {
  return { recordKey: call.recordKey, stateKey: call.stateKey, slotKey: call.slotKey, requestId, dims: call.dims, tokens, writeRecord: call.writeRecord, recordTtlMs: call.recordTtlMs };
}

export async function decide(cfg: TokenLimitConfig, settings: RedisSettings, call: CallPlan, tokens: number, requestId: string): Promise<Decision> {
  const now = testNow();
  const args = decideArgs(call, tokens, requestId);
  if (cfg.policy === 'local') return { result: decideLocal(local, args, now ?? Date.now()), via: 'local', fellBack: false };
  let fellBack = false;
  const r = await callRedis(getRedis(settings), (redis) => decideRedis(redis, args, now), {
    openMs: cfg.redis?.breaker_open_ms ?? 1000,
    fallback: cfg.fault_tolerant ? () => decideLocal(local, args, now ?? Date.now()) : undefined,
    onFallback: (reason) => {
      if (reason === 'error') fellBack = true;
    },
  });
  return { result: r.value, via: r.via, fellBack };
}

export async function settle(cfg: TokenLimitConfig, settings: RedisSettings, call: CallPlan, requestId: string, mode: SettleMode, actualTokens: number): Promise<boolean> {
  const now = testNow();
  const args = { recordKey: call.recordKey, stateKey: call.stateKey, slotKey: call.slotKey, requestId, dims: call.dims, mode, actualTokens };
  // A reservation made locally (policy local, or while Redis was down) is settled locally.
  const settledLocally = settleLocal(local, args, now ?? Date.now());
  if (cfg.policy === 'local' || settledLocally) return settledLocally;
  const r = await callRedis(getRedis(settings), (redis) => settleRedis(redis, args, now), {
    openMs: cfg.redis?.breaker_open_ms ?? 1000,
    fallback: () => false,
  });
  return r.value;
}
