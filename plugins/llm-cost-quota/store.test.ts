import { afterAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { LocalCostStore, RedisCostStore, type CostStore, type Crossing } from './store';
import { tenantScope, globalScope, reservationKey, type BudgetScope } from './budgets';
import { usdToNano } from '../core/money';

const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false });
const PREFIX = `llg:t:cost-store:${randomBytes(4).toString('hex')}:`;

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
});

const NOW = Date.parse('2030-11-23T15:00:00Z');
let tenantSeq = 0;

function scopeFor(budgets: Record<string, unknown>, now = NOW, tz = 'UTC', tenant = `t${++tenantSeq}-${randomBytes(2).toString('hex')}`, lineage?: string): BudgetScope {
  return tenantScope({ prefix: PREFIX, tenant_id: tenant, lineage_id: lineage, budgets: budgets as never, timezone: tz, now, default_thresholds: [80, 100], grace_sec: 86_400 });
}

async function spentOf(store: CostStore, key: string): Promise<{ s: number; c: number }> {
  if (store instanceof LocalCostStore) return store.peek(key) ?? { s: 0, c: 0 };
  const h = await redis.hgetall(key);
  return { s: Number(h.s ?? 0), c: Number(h.c ?? 0) };
}

const backends: Array<[string, () => CostStore]> = [
  ['redis', () => new RedisCostStore(redis)],
  ['local', () => new LocalCostStore(() => NOW)],
];

describe.each(backends)('cost store (%s)', (_name, make) => {
  it('200 concurrent $0.01 reservations against a $1.00 daily cap: exactly 100 admitted, spend never above the cap', async () => {
    const store = make();
    const scope = scopeFor({ tenant_daily_nano: usdToNano(1) });
    const key = scope.counters[0]!.key;
    const cost = usdToNano(0.01);
    let maxSeen = 0;
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const r = await store.reserve({ scope, request_id: `r${i}`, cost_nano: cost, shadow: false, record_ttl_sec: 3600 });
        if (r.admitted) maxSeen = Math.max(maxSeen, r.spent[0]!);
        return r;
      }),
    );
    const admitted = results.filter((r) => r.admitted);
    expect(admitted).toHaveLength(100);
    expect(maxSeen).toBe(usdToNano(1));
    expect((await spentOf(store, key)).s).toBe(usdToNano(1));
    // The refused ones name the daily tenant budget and announce 100% once.
    expect(results.filter((r) => !r.admitted).every((r) => r.denied_index === 0)).toBe(true);
    const denialCrossings = results.flatMap((r) => r.crossings);
    expect(denialCrossings).toEqual([expect.objectContaining({ name: 'tenant_daily', pct: 100, trigger: 'denied' })]);

    // Settle the admitted ones to smaller actual usage: $0.004 each → $0.40 committed.
    const settled = await Promise.all(
      results.map((r, i) => (r.admitted ? store.settle({ base: scope.base, request_id: `r${i}`, reserved_nano: cost, actual_nano: usdToNano(0.004) }) : undefined)),
    );
    expect(settled.filter((s) => s?.found)).toHaveLength(100);
    expect(await spentOf(store, key)).toEqual({ s: usdToNano(0.4), c: usdToNano(0.4) });
    // The refund lets 60 more in, not 61.
    const more = await Promise.all(Array.from({ length: 80 }, (_, i) => store.reserve({ scope, request_id: `m${i}`, cost_nano: cost, shadow: false, record_ttl_sec: 3600 })));
    expect(more.filter((r) => r.admitted)).toHaveLength(60);
    expect((await spentOf(store, key)).s).toBe(usdToNano(1));
  });

  it('all or nothing: a request refused by one budget consumes nothing on the others', async () => {
    const store = make();
    const scope = scopeFor({ tenant_daily_nano: usdToNano(10), key_daily_nano: usdToNano(0.05), tenant_monthly_nano: usdToNano(100) }, NOW, 'UTC', undefined, 'lin1');
    const names = scope.counters.map((c) => c.name);
    expect(names).toEqual(['key_daily', 'tenant_daily', 'tenant_monthly']);
    const cost = usdToNano(0.02);
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await store.reserve({ scope, request_id: `a${i}`, cost_nano: cost, shadow: false, record_ttl_sec: 60 }));
    expect(rs.map((r) => r.admitted)).toEqual([true, true, false, false]);
    expect(rs[2]!.denied_index).toBe(0);
    for (const c of scope.counters) expect((await spentOf(store, c.key)).s).toBe(usdToNano(0.04));
  });

  it('refund and keep; settling twice or without a reservation changes nothing', async () => {
    const store = make();
    const scope = scopeFor({ tenant_daily_nano: usdToNano(1) });
    const key = scope.counters[0]!.key;
    await store.reserve({ scope, request_id: 'x', cost_nano: 500, shadow: false, record_ttl_sec: 60 });
    await store.reserve({ scope, request_id: 'y', cost_nano: 700, shadow: false, record_ttl_sec: 60 });
    expect((await store.settle({ base: scope.base, request_id: 'x', reserved_nano: 500, actual_nano: 0 })).found).toBe(true);
    expect((await store.settle({ base: scope.base, request_id: 'x', reserved_nano: 500, actual_nano: 0 })).found).toBe(false);
    expect((await store.settle({ base: scope.base, request_id: 'nope', reserved_nano: 500, actual_nano: 0 })).found).toBe(false);
    expect((await store.settle({ base: scope.base, request_id: 'y', reserved_nano: 700, actual_nano: 700 })).found).toBe(true);
    expect(await spentOf(store, key)).toEqual({ s: 700, c: 700 });
  });

  it('a repeated request id holds one reservation per request', async () => {
    const store = make();
    const scope = scopeFor({ tenant_daily_nano: usdToNano(1) });
    const key = scope.counters[0]!.key;
    await store.reserve({ scope, request_id: 'same', cost_nano: 100, shadow: false, record_ttl_sec: 60 });
    await store.reserve({ scope, request_id: 'same', cost_nano: 100, shadow: false, record_ttl_sec: 60 });
    expect((await store.settle({ base: scope.base, request_id: 'same', reserved_nano: 100, actual_nano: 10 })).found).toBe(true);
    expect((await store.settle({ base: scope.base, request_id: 'same', reserved_nano: 100, actual_nano: 20 })).found).toBe(true);
    expect((await store.settle({ base: scope.base, request_id: 'same', reserved_nano: 100, actual_nano: 30 })).found).toBe(false);
    expect(await spentOf(store, key)).toEqual({ s: 30, c: 30 });
  });

  it('threshold events fire once per budget and period, even under concurrency', async () => {
    const store = make();
    const scope = scopeFor({ tenant_daily_nano: 1000, thresholds_pct: [50, 80, 100] });
    const n = 100;
    await Promise.all(Array.from({ length: n }, (_, i) => store.reserve({ scope, request_id: `q${i}`, cost_nano: 10, shadow: false, record_ttl_sec: 60 })));
    const settled = await Promise.all(Array.from({ length: n }, (_, i) => store.settle({ base: scope.base, request_id: `q${i}`, reserved_nano: 10, actual_nano: 10 })));
    const crossings: Crossing[] = settled.flatMap((s) => s.crossings);
    expect(crossings.map((c) => c.pct).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    expect(crossings.every((c) => c.name === 'tenant_daily' && c.period_id === '2030-11-23' && c.cap_nano === 1000)).toBe(true);
    // A denial afterwards does not announce 100% again.
    const r = await store.reserve({ scope, request_id: 'late', cost_nano: 10, shadow: false, record_ttl_sec: 60 });
    expect(r.admitted).toBe(false);
    expect(r.crossings).toEqual([]);
  });

  it('a new local day (New York) opens a new budget; a late settle lands in the old one', async () => {
    const store = make();
    const tenant = `ny-${randomBytes(3).toString('hex')}`;
    const beforeMidnight = Date.parse('2030-11-24T04:59:00Z'); // 23:59 on the 23rd in New York
    const s1 = scopeFor({ tenant_daily_nano: 100 }, beforeMidnight, 'America/New_York', tenant);
    expect(s1.counters[0]!.period_id).toBe('2030-11-23');
    expect((await store.reserve({ scope: s1, request_id: 'a', cost_nano: 100, shadow: false, record_ttl_sec: 600 })).admitted).toBe(true);
    expect((await store.reserve({ scope: s1, request_id: 'b', cost_nano: 1, shadow: false, record_ttl_sec: 600 })).admitted).toBe(false);
    const s2 = scopeFor({ tenant_daily_nano: 100 }, beforeMidnight + 60_000, 'America/New_York', tenant);
    expect(s2.counters[0]!.period_id).toBe('2030-11-24');
    expect((await store.reserve({ scope: s2, request_id: 'c', cost_nano: 100, shadow: false, record_ttl_sec: 600 })).admitted).toBe(true);
    // 'a' settles after midnight: the refund goes to the 23rd's counter, not the 24th's.
    await store.settle({ base: s2.base, request_id: 'a', reserved_nano: 100, actual_nano: 40 });
    expect((await spentOf(store, s1.counters[0]!.key)).s).toBe(40);
    expect((await spentOf(store, s2.counters[0]!.key)).s).toBe(100);
  });

  it('shadow mode counts the spend past the cap and reports the would-be denial', async () => {
    const store = make();
    const scope = scopeFor({ tenant_daily_nano: 100 });
    await store.reserve({ scope, request_id: 'a', cost_nano: 80, shadow: true, record_ttl_sec: 60 });
    const r = await store.reserve({ scope, request_id: 'b', cost_nano: 80, shadow: true, record_ttl_sec: 60 });
    expect(r.admitted).toBe(true);
    expect(r.denied_index).toBe(0);
    expect(r.spent[0]).toBe(160);
  });

  it('global scope uses its own hash tag', () => {
    const g = globalScope({ prefix: PREFIX, daily_nano: 5, timezone: 'UTC', now: NOW, thresholds: [80], grace_sec: 10 })!;
    expect(g.counters[0]!.key).toBe(`${PREFIX}{*global*}:cost:global:d:2030-11-23`);
    expect(reservationKey(g.base, 'r')).toBe(`${PREFIX}{*global*}:cost:req:r`);
  });
});

describe('local fallback', () => {
  it('continues from the last spend seen in Redis instead of from zero', async () => {
    const local = new LocalCostStore(() => NOW);
    const scope = scopeFor({ tenant_daily_nano: 100 });
    local.observe(scope.counters[0]!, 90);
    local.observe(scope.counters[0]!, 40); // an older reply never lowers it
    expect((await local.reserve({ scope, request_id: 'a', cost_nano: 10, shadow: false, record_ttl_sec: 60 })).admitted).toBe(true);
    expect((await local.reserve({ scope, request_id: 'b', cost_nano: 10, shadow: false, record_ttl_sec: 60 })).admitted).toBe(false);
  });
});

describe('redis keys', () => {
  it('counters expire after their period (plus grace) and share the tenant hash tag', async () => {
    const store = new RedisCostStore(redis);
    const scope = scopeFor({ tenant_daily_nano: 100, tenant_monthly_nano: 1000, per_minute_nano: 50 }, Date.now(), 'Asia/Kolkata', 'acme', 'L1');
    await store.reserve({ scope, request_id: 'r1', cost_nano: 10, shadow: false, record_ttl_sec: 120 });
    for (const c of scope.counters) {
      expect(c.key.startsWith(`${PREFIX}{acme}:cost:`)).toBe(true);
      const ttl = await redis.expiretime(c.key);
      expect(ttl).toBe(c.expire_at_sec);
    }
    expect(await redis.ttl(`${PREFIX}{acme}:cost:req:r1`)).toBeGreaterThan(100);
    await redis.del(...scope.counters.map((c) => c.key), `${PREFIX}{acme}:cost:req:r1`);
  });
});
