/**
 * The Lua scripts against a real Redis (standalone or Cluster): the same scenarios as the pure
 * cores, plus a randomized comparison with the local engine (same decisions, same numbers).
 * Shared by lua.test.ts (127.0.0.1:6379) and lua-cluster.test.ts (a local 3-node cluster).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/client';
import { decideLocal, MemoryStore, settleLocal, type DecideArgs, type DimSpec, type SettleMode } from './engine';
import { decideRedis, settleRedis } from './redis';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = 1_800_000_000_000;

export async function deleteByPrefix(redis: RedisClient, prefix: string): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      // One DEL per key: on a Cluster, keys of one batch may live in different slots.
      for (const k of keys) await node.del(k);
    } while (cursor !== '0');
  }
}

export function luaSuite(label: string, client: () => RedisClient): void {
  const prefix = `llg:t:lua:${label}:${randomBytes(4).toString('hex')}:`;
  let n = 0;
  const tenant = () => `${prefix}{ten${++n}}:rl:`;

  afterAll(async () => {
    await deleteByPrefix(client(), prefix);
  });

  const dim = (_base: string, kind: DimSpec['kind'], alg: DimSpec['alg'], limit: number, periodMs: number): DimSpec => ({ kind, alg, limit, periodMs });
  const args = (base: string, dims: DimSpec[], requestId: string, tokens = 0, writeRecord = false, recordTtlMs = HOUR): DecideArgs => ({ recordKey: `${base}res:${requestId}`, stateKey: `${base}state`, slotKey: `${base}cc`, requestId, dims, tokens, writeRecord, recordTtlMs });

  async function count(base: string, d: DimSpec, n: number, now: number, tokens = 0): Promise<number> {
    let ok = 0;
    for (let i = 0; i < n; i++) if ((await decideRedis(client(), args(base, [d], `r${i}`, tokens), now)).allowed) ok++;
    return ok;
  }

  describe(`Lua scripts on ${label}`, () => {
    it('fixed window: exactly L per window, fresh window at the boundary', async () => {
      const b = tenant();
      const d = dim(b, 'r', 'fw', 10, MIN);
      expect(await count(b, d, 15, T0 + MIN - 1)).toBe(10);
      const r = await decideRedis(client(), args(b, [d], 'x'), T0 + MIN - 1);
      expect(r).toMatchObject({ allowed: false, failIndex: 0, retryMs: 1, dims: [{ remaining: 0, resetMs: 1 }] });
      expect(await count(b, d, 15, T0 + MIN)).toBe(10);
    });

    it('sliding window: weighted previous window, exact retry time', async () => {
      const b = tenant();
      const d = dim(b, 'r', 'sw', 100, MIN);
      expect(await count(b, d, 120, T0 + 59_000)).toBe(100);
      const now = T0 + MIN + 15_000; // estimate 75
      expect(await count(b, d, 60, now)).toBe(25);
      const r = await decideRedis(client(), args(b, [d], 'x'), now);
      expect(r).toMatchObject({ allowed: false, retryMs: 600 });
      expect((await decideRedis(client(), args(b, [d], 'y'), now + 599)).allowed).toBe(false);
      expect((await decideRedis(client(), args(b, [d], 'z'), now + 600)).allowed).toBe(true);
    });

    it('token bucket: burst of L, refill L/P', async () => {
      const b = tenant();
      const d = dim(b, 'r', 'tb', 100, MIN);
      expect(await count(b, d, 130, T0)).toBe(100);
      expect(await decideRedis(client(), args(b, [d], 'x'), T0)).toMatchObject({ allowed: false, retryMs: 600, dims: [{ remaining: 0, resetMs: MIN }] });
      expect(await count(b, d, 5, T0 + 599)).toBe(0);
      expect(await count(b, d, 5, T0 + 600)).toBe(1);
      expect(await count(b, d, 60, T0 + 600 + 30_000)).toBe(50);
    });

    it('GCRA: burst of L, one per interval, non-integer interval exact', async () => {
      const b = tenant();
      const d = dim(b, 'r', 'gc', 100, MIN);
      expect(await count(b, d, 130, T0)).toBe(100);
      expect(await count(b, d, 3, T0 + 599)).toBe(0);
      expect(await count(b, d, 3, T0 + 600)).toBe(1);
      const b7 = tenant();
      const d7 = dim(b7, 'r', 'gc', 7, MIN);
      expect(await count(b7, d7, 20, T0 + 1)).toBe(7);
    });

    it('all or nothing: a request refused by one dimension consumes nothing on the others', async () => {
      const b = tenant();
      const dims = [dim(b, 'r', 'sw', 100, MIN), dim(b, 't', 'fw', 1000, MIN), dim(b, 'c', 'cc', 5, MIN)];
      const ok = await decideRedis(client(), args(b, dims, 'a', 900, true), T0);
      expect(ok).toMatchObject({ allowed: true, dims: [{ remaining: 99 }, { remaining: 100 }, { remaining: 4 }] });
      const no = await decideRedis(client(), args(b, dims, 'b', 200, true), T0);
      expect(no).toMatchObject({ allowed: false, failIndex: 1, dims: [{ remaining: 99 }, { remaining: 100 }, { remaining: 4 }] });
      // the same request id while the first is in flight: refused as a duplicate
      expect(await decideRedis(client(), args(b, dims, 'a', 1, true), T0)).toMatchObject({ allowed: false, duplicate: true });
      // settle the first with 300 actual tokens: 600 come back, its slot is freed
      expect(await settleRedis(client(), { recordKey: `${b}res:a`, stateKey: `${b}state`, slotKey: `${b}cc`, requestId: 'a', dims, mode: 'actual', actualTokens: 300 }, T0 + 10)).toBe(true);
      expect(await settleRedis(client(), { recordKey: `${b}res:a`, stateKey: `${b}state`, slotKey: `${b}cc`, requestId: 'a', dims, mode: 'actual', actualTokens: 300 }, T0 + 10)).toBe(false);
      const after = await decideRedis(client(), args(b, dims, 'c', 700, true), T0 + 20);
      expect(after).toMatchObject({ allowed: true, dims: [{ remaining: 98 }, { remaining: 0 }, { remaining: 4 }] });
    });

    it('concurrency: slots free on settle, and by themselves after their lifetime', async () => {
      const b = tenant();
      const d = dim(b, 'c', 'cc', 2, 5_000);
      const go = (id: string, now: number) => decideRedis(client(), args(b, [d], id, 0, true), now);
      expect((await go('a', T0)).allowed).toBe(true);
      expect((await go('b', T0)).allowed).toBe(true);
      expect((await go('c', T0)).allowed).toBe(false);
      await settleRedis(client(), { recordKey: `${b}res:a`, stateKey: `${b}state`, slotKey: `${b}cc`, requestId: 'a', dims: [d], mode: 'keep', actualTokens: 0 }, T0 + 1);
      expect((await go('c', T0 + 2)).allowed).toBe(true);
      expect((await go('d', T0 + 3)).allowed).toBe(false);
      // 'b' and 'c' crashed: their slots expire after 5 s
      expect((await go('d', T0 + 5_001)).allowed).toBe(true); // b's slot ended at T0 + 5000
      expect((await go('e', T0 + 5_001)).allowed).toBe(false); // c (until T0 + 5002) and d
      expect((await go('e', T0 + 5_003)).allowed).toBe(true);
    });

    it('an unsettled reservation never outlives its window', async () => {
      const b = tenant();
      const d = dim(b, 't', 'fw', 1000, MIN);
      expect((await decideRedis(client(), args(b, [d], 'a', 800, true), T0 + 100)).allowed).toBe(true);
      expect((await decideRedis(client(), args(b, [d], 'b', 800, true), T0 + 200)).allowed).toBe(false);
      expect((await decideRedis(client(), args(b, [d], 'b', 800, true), T0 + MIN)).allowed).toBe(true);
      // settling 'a' now refunds into a window that is over: the new window is unaffected
      await settleRedis(client(), { recordKey: `${b}res:a`, stateKey: `${b}state`, slotKey: `${b}cc`, requestId: 'a', dims: [d], mode: 'refund', actualTokens: 0 }, T0 + MIN + 1);
      expect(await decideRedis(client(), args(b, [d], 'c', 201, true), T0 + MIN + 2)).toMatchObject({ allowed: false, dims: [{ remaining: 200 }] });
      const ttl = await client().pttl(`${b}res:a`);
      expect(ttl).toBe(-2);
    });

    it('uses Redis TIME when no override is given', async () => {
      const b = tenant();
      const d = dim(b, 'r', 'fw', 5, MIN);
      const before = Date.now();
      const r = await decideRedis(client(), args(b, [d], 'x'));
      expect(r.allowed).toBe(true);
      expect(Math.abs(r.now - before)).toBeLessThan(5_000);
    });

    it('decides exactly like the local engine over random sequences (decisions, remaining, reset, retry)', async () => {
      // Time moves in steps that keep every bucket/GCRA deficit a whole number of intervals, so
      // no key's real-time TTL can run out before the virtual clock passes it (see the comment
      // in the test file header); windows still cross boundaries at random offsets.
      const b = tenant();
      const dims = [
        dim(b, 'r', 'sw', 20, MIN),
        dim(b, 'r', 'fw', 500, HOUR),
        dim(b, 'r', 'tb', 100, HOUR),
        dim(b, 'r', 'gc', 10, MIN),
        dim(b, 't', 'tb', 1000, HOUR),
        dim(b, 't', 'gc', 2000, 86_400_000),
        dim(b, 't', 'sw', 3000, MIN),
        dim(b, 't', 'fw', 5000, HOUR),
        dim(b, 'c', 'cc', 4, HOUR),
      ];
      const store = new MemoryStore();
      let seed = 12345;
      const rnd = (k: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return Math.floor((seed / 2 ** 31) * k);
      };
      let now = T0 + 7 * 216_000;
      const open: string[] = [];
      const seen = { allowed: 0, denied: 0, settled: 0 };
      for (let i = 0; i < 250; i++) {
        const r = rnd(10);
        if (r < 4) now += rnd(3) * 216_000;
        if (open.length > 0 && r >= 6) {
          const id = open.splice(rnd(open.length), 1)[0] as string;
          const mode = (['refund', 'actual', 'keep', 'rollback'] as SettleMode[])[rnd(4)] as SettleMode;
          const s = { recordKey: `${b}res:${id}`, stateKey: `${b}state`, slotKey: `${b}cc`, requestId: id, dims, mode, actualTokens: rnd(400) };
          const settled = settleLocal(store, s, now);
          expect(await settleRedis(client(), s, now)).toBe(settled);
          if (settled) seen.settled++;
          continue;
        }
        const id = `q${i}`;
        const pick = dims.filter(() => rnd(3) > 0);
        const a = args(b, pick, id, 1 + rnd(300), true, 30 * 86_400_000);
        const local = decideLocal(store, a, now);
        const remote = await decideRedis(client(), a, now);
        expect({ ...remote, now: undefined }).toEqual({ ...local, now: undefined });
        if (local.allowed) open.push(id);
        seen[local.allowed ? 'allowed' : 'denied']++;
      }
      // the sequence exercised both outcomes and real settlements
      expect(seen.allowed).toBeGreaterThan(20);
      expect(seen.denied).toBeGreaterThan(20);
      expect(seen.settled).toBeGreaterThan(10);
    });
  });
}
