/**
 * Running the decide/settle scripts (./lua.ts) and decoding their replies into the same shapes
 * as the local engine (./engine.ts). One EVALSHA per call; the reservation itself is kept in
 * this process (./reservations.ts), under the same key and with the same lifetime as the
 * engine's record.
 */
import type { RedisClient } from '../redis/client';
import { RedisScript } from '../redis/script';
import type { DecideArgs, DecideResult, DimSpec, SettleArgs } from './engine';
import { DECIDE_LUA, SETTLE_LUA } from './lua';
import { ReservationBook } from './reservations';

export const DECIDE_SCRIPT = new RedisScript('llg-limit-decide', DECIDE_LUA, { integerReply: true });
export const SETTLE_SCRIPT = new RedisScript('llg-limit-settle', SETTLE_LUA, { integerReply: true });

/** Reservations of this process's Redis decisions, until their log phase. */
export const reservations = new ReservationBook();

/** A dimension's field in the state hash, which is also the spec the scripts read: `<kind><alg>:<field>`. */
export function stateField(d: Pick<DimSpec, 'kind' | 'alg' | 'field'>): string {
  return `${d.kind}${d.alg}:${d.field}`;
}

function pushDims(out: string[], dims: DimSpec[]): string[] {
  for (const d of dims) out.push(stateField(d), String(d.limit), String(d.periodMs));
  return out;
}

/** A state value as the scripts store it (little-endian doubles), for tests and operators' tools. */
export function packState(values: number[]): Buffer {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeDoubleLE(v, 8 * i));
  return b;
}

export function unpackState(b: Buffer | null): number[] {
  if (!b || b.length === 0) return [];
  return Array.from({ length: Math.floor(b.length / 8) }, (_, i) => b.readDoubleLE(8 * i));
}

export interface RedisDecideResult extends DecideResult {
  /** The time the script used (Redis TIME or the override). */
  now: number;
}

function duplicate(a: DecideArgs): RedisDecideResult {
  return { allowed: false, duplicate: true, failIndex: -1, retryMs: 1000, now: 0, dims: a.dims.map(() => ({ remaining: 0, resetMs: 0 })) };
}

/**
 * `clock` = the time reservations are kept against (the override in tests, else this
 * process's clock; the decision itself uses Redis TIME).
 */
export async function decideRedis(redis: RedisClient, a: DecideArgs, nowOverride?: number, book = reservations): Promise<RedisDecideResult> {
  const clock = nowOverride ?? Date.now();
  // Claimed before the call, so a second request with this id is refused even while the first is in flight.
  if (a.writeRecord && !book.claim(a.recordKey, a.recordTtlMs, clock)) return duplicate(a);
  let reply: number[];
  try {
    const head = [nowOverride === undefined ? '' : String(nowOverride), a.requestId, String(a.tokens)];
    reply = (await DECIDE_SCRIPT.run(redis, [a.stateKey, a.slotKey], pushDims(head, a.dims))) as number[];
  } catch (e) {
    if (a.writeRecord) book.release(a.recordKey);
    throw e;
  }
  const allowed = reply[0] === 1;
  const now = reply[3]!;
  if (a.writeRecord) {
    if (allowed) book.confirm(a.recordKey, { at: now, tokens: a.tokens });
    else book.release(a.recordKey);
  }
  const dims = new Array<{ remaining: number; resetMs: number }>(a.dims.length);
  for (let i = 0; i < dims.length; i++) dims[i] = { remaining: reply[4 + 2 * i]!, resetMs: reply[5 + 2 * i]! };
  return { allowed, duplicate: false, failIndex: reply[1]! - 1, retryMs: reply[2]!, now, dims };
}

/** False when there was no reservation to settle (settled already, expired, never made here). */
export async function settleRedis(redis: RedisClient, a: SettleArgs, nowOverride?: number, book = reservations): Promise<boolean> {
  const r = book.take(a.recordKey, nowOverride ?? Date.now());
  if (!r) return false;
  const head = [nowOverride === undefined ? '' : String(nowOverride), a.requestId, a.mode, String(a.actualTokens), String(r.at), String(r.tokens)];
  await SETTLE_SCRIPT.run(redis, [a.stateKey, a.slotKey], pushDims(head, a.dims));
  return true;
}
