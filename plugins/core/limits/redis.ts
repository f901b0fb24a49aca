/**
 * Running the decide/settle scripts (./lua.ts) and decoding their replies into the same shapes
 * as the local engine (./engine.ts). One EVALSHA per call.
 */
import type { RedisClient } from '../redis/client';
import { RedisScript } from '../redis/script';
import type { DecideArgs, DecideResult, DimSpec, SettleArgs } from './engine';
import { DECIDE_LUA, SETTLE_LUA } from './lua';

export const DECIDE_SCRIPT = new RedisScript('llg-limit-decide', DECIDE_LUA);
export const SETTLE_SCRIPT = new RedisScript('llg-limit-settle', SETTLE_LUA);

function pushDimArgs(out: Array<string | number>, dims: DimSpec[]): Array<string | number> {
  for (const d of dims) out.push(d.kind, d.alg, d.limit, d.periodMs, d.field);
  return out;
}

export interface RedisDecideResult extends DecideResult {
  /** The time the script used (Redis TIME or the override). */
  now: number;
}

export async function decideRedis(redis: RedisClient, a: DecideArgs, nowOverride?: number): Promise<RedisDecideResult> {
  const keys = [a.recordKey, a.stateKey, a.slotKey];
  const args = pushDimArgs([nowOverride === undefined ? '' : nowOverride, a.requestId, a.tokens, a.writeRecord ? 1 : 0, a.recordTtlMs, a.dims.length], a.dims);
  const reply = (await DECIDE_SCRIPT.run(redis, keys, args)) as number[];
  const status = Number(reply[0]);
  const dims = a.dims.map((_, i) => ({ remaining: Number(reply[4 + 2 * i]), resetMs: Number(reply[5 + 2 * i]) }));
  return {
    allowed: status === 1,
    duplicate: status === -1,
    failIndex: Number(reply[1]) - 1,
    retryMs: Number(reply[2]),
    now: Number(reply[3]),
    dims,
  };
}

export async function settleRedis(redis: RedisClient, a: SettleArgs, nowOverride?: number): Promise<boolean> {
  const keys = [a.recordKey, a.stateKey, a.slotKey];
  const reply = await SETTLE_SCRIPT.run(redis, keys, pushDimArgs([nowOverride === undefined ? '' : nowOverride, a.requestId, a.mode, a.actualTokens, a.dims.length], a.dims));
  return Number(reply) === 1;
}
