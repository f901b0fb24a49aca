/**
 * Running the decide/settle scripts (./lua.ts) and decoding their replies into the same shapes
 * as the local engine (./engine.ts). One EVALSHA per call; the reservation itself is kept in
 * this process (./reservations.ts), under the same key and with the same lifetime as the
 * engine's record.
 */
import type { RedisClient } from '../redis/client';
import { EncodedArgs, RedisScript } from '../redis/script';
import { dimIdentity, type DecideArgs, type DecideResult, type DimSpec, type SettleArgs } from './engine';
import { DECIDE_LUA, SETTLE_LUA } from './lua';
import { ReservationBook } from './reservations';

export const DECIDE_SCRIPT = new RedisScript('llg-limit-decide', DECIDE_LUA, { rawReply: true });
export const SETTLE_SCRIPT = new RedisScript('llg-limit-settle', SETTLE_LUA, { rawReply: true });

/** Reservations of this process's Redis decisions, until their log phase. */
export const reservations = new ReservationBook();

/**
 * Dimensions as the scripts see them: grouped by algorithm and period, one request member and
 * one token member per group (see ./lua.ts). `slot[i]` is dimension i's position in the reply
 * (remaining, reset, retry follow each other there).
 */
export interface WireGroups {
  /** Per group: field, request limit, token limit, period (the scripts' trailing arguments). */
  args: EncodedArgs;
  slot: number[];
  /** Values in the decision's reply: status, now, 6 per group. */
  replyLength: number;
}

/** The state-hash field of a dimension's group (first byte = algorithm): `<alg>:<period>`, or `cc`. */
export function groupField(d: Pick<DimSpec, 'alg' | 'periodMs'>): string {
  return d.alg === 'cc' ? 'cc' : `${d.alg}:${d.periodMs}`;
}

/** Per dimensions array (plans reuse theirs across requests with the same limits). */
const wireCache = new WeakMap<readonly DimSpec[], WireGroups>();

export function wireGroups(dims: readonly DimSpec[]): WireGroups {
  let w = wireCache.get(dims);
  if (!w) {
    w = buildWireGroups(dims);
    if (Object.isFrozen(dims)) wireCache.set(dims, w); // only arrays nobody can change afterwards
  }
  return w;
}

function buildWireGroups(dims: readonly DimSpec[]): WireGroups {
  const fields: string[] = [];
  const members: Array<[DimSpec | undefined, DimSpec | undefined]> = [];
  const slot = new Array<number>(dims.length);
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    const m = d.kind === 't' ? 1 : 0; // requests and concurrency: the request member
    const f = groupField(d);
    let g = fields.indexOf(f);
    if (g < 0) {
      g = fields.push(f) - 1;
      members.push([undefined, undefined]);
    }
    if (members[g]![m]) throw new TypeError(`two limit dimensions with the same identity (${dimIdentity(d)})`);
    members[g]![m] = d;
    slot[i] = 2 + g * 6 + m * 3;
  }
  const args: string[] = [];
  for (let g = 0; g < fields.length; g++) {
    const [r, t] = members[g]!;
    args.push(fields[g]!, r ? String(r.limit) : '0', t ? String(t.limit) : '0', String((r ?? t)!.periodMs));
  }
  return { args: new EncodedArgs(args), slot, replyLength: 2 + 6 * fields.length };
}

/** A group's state as the scripts store it (little-endian doubles), for tests and operators' tools. */
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
 * `nowOverride` replaces Redis TIME (tests); reservations are kept against it too, else against
 * this process's clock.
 */
export async function decideRedis(redis: RedisClient, a: DecideArgs, nowOverride?: number, book = reservations): Promise<RedisDecideResult> {
  const clock = nowOverride ?? Date.now();
  // Claimed before the call, so a second request with this id is refused even while the first is in flight.
  if (a.writeRecord && !book.claim(a.recordKey, a.recordTtlMs, clock)) return duplicate(a);
  const wire = wireGroups(a.dims);
  let reply: Buffer;
  try {
    const cmd = DECIDE_SCRIPT.begin(2);
    cmd.push(a.stateKey, a.slotKey, nowOverride === undefined ? '' : String(nowOverride), a.requestId, String(a.tokens));
    reply = (await DECIDE_SCRIPT.send(redis, cmd, wire.args)) as Buffer;
    if (!Buffer.isBuffer(reply) || reply.length < 8 * wire.replyLength) throw new Error('unexpected reply from the limit script');
  } catch (e) {
    if (a.writeRecord) book.release(a.recordKey);
    throw e;
  }
  // packed little-endian doubles: status, now, then remaining/reset/retry per member (see ./lua.ts)
  const at = (i: number) => reply.readDoubleLE(8 * i);
  const allowed = at(0) === 1;
  const now = at(1);
  if (a.writeRecord) {
    if (allowed) book.confirm(a.recordKey, { at: now, tokens: a.tokens });
    else book.release(a.recordKey);
  }
  // The refusing dimension: the longest wait, the first one on ties (as the engine picks it).
  let failIndex = -1;
  let retryMs = 0;
  const dims = new Array<{ remaining: number; resetMs: number }>(a.dims.length);
  for (let i = 0; i < dims.length; i++) {
    const s = wire.slot[i]!;
    dims[i] = { remaining: at(s), resetMs: at(s + 1) };
    const retry = at(s + 2);
    if (retry > retryMs) {
      failIndex = i;
      retryMs = retry;
    }
  }
  if (allowed) return { allowed, duplicate: false, failIndex: -1, retryMs: 0, now, dims };
  return { allowed, duplicate: false, failIndex, retryMs, now, dims };
}

/** False when there was no reservation to settle (settled already, expired, never made here). */
export async function settleRedis(redis: RedisClient, a: SettleArgs, nowOverride?: number, book = reservations): Promise<boolean> {
  const r = book.take(a.recordKey, nowOverride ?? Date.now());
  if (!r) return false;
  const cmd = SETTLE_SCRIPT.begin(2);
  cmd.push(a.stateKey, a.slotKey, nowOverride === undefined ? '' : String(nowOverride), a.requestId, a.mode, String(a.actualTokens), String(r.at), String(r.tokens));
  await SETTLE_SCRIPT.send(redis, cmd, wireGroups(a.dims).args);
  return true;
}
