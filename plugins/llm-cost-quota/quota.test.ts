import { afterAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { deleteByPrefix, testPrefix } from '../../test/harness/redis';
import { validateKongConfig, flattenFieldErrors } from '../core/schema';
import { closeAllRedis } from '../core/redis/client';
import { usdToNano } from '../core/money';
import type { LlmRequest } from '../core/context';
import { CostQuota, type QuotaSubject } from './quota';
import { Schema, type CostQuotaConfig } from './schema';
import { buildPriceTable, worstCaseCostNano } from './prices';
import { buildEngine } from './handler';

const PREFIX = testPrefix('cost-quota');
const redis = new Redis('redis://127.0.0.1:6379');

afterAll(async () => {
  await deleteByPrefix(redis, PREFIX);
  redis.disconnect();
  await closeAllRedis();
});

const PRICES = {
  'gpt-4o': { input_per_1m: 2.5, output_per_1m: 10, cached_input_per_1m: 1.25 },
  'gpt-4o-mini': { input_per_1m: 0.15, output_per_1m: 0.6 },
  cheap: { input_per_1m: 1, output_per_1m: 1 },
};

function config(over: Record<string, unknown> = {}): CostQuotaConfig {
  const r = validateKongConfig<CostQuotaConfig>(Schema, { prices: PRICES, aliases: { fast: 'gpt-4o-mini' }, redis_key_prefix: PREFIX, ...over });
  if (!r.ok) throw new Error(flattenFieldErrors(r.errors).join('; '));
  return r.value;
}

let seq = 0;
function request(over: Partial<LlmRequest> = {}): LlmRequest {
  return {
    v: 1,
    request_id: `req-${++seq}`,
    endpoint: 'chat',
    model: 'cheap',
    stream: false,
    input_tokens: 5000,
    max_tokens: 5000,
    n: 1,
    prompt_hash: 'h',
    include_usage_injected: false,
    tenant_id: `tenant-${seq}`,
    lineage_id: 'lin-1',
    timezone: 'UTC',
    limits: {},
    budgets: {},
    ...over,
  };
}

describe('prices', () => {
  const table = buildPriceTable(PRICES, { fast: 'gpt-4o-mini', 'my-4o': 'gpt-4o-2024-08-06' });
  it('date-suffixed names and aliases map to the base model', () => {
    expect(table.lookup('gpt-4o-2024-08-06')?.model).toBe('gpt-4o');
    expect(table.lookup('GPT-4o')?.model).toBe('gpt-4o');
    expect(table.lookup('fast')?.model).toBe('gpt-4o-mini');
    expect(table.lookup('my-4o')?.model).toBe('gpt-4o');
    expect(table.lookup('gpt-4o-mini-2024-07-18')?.model).toBe('gpt-4o-mini');
    expect(table.lookup('llama-3')).toBeUndefined();
  });
  it('worst case = input × input price + max_tokens × n × output price, in nano-dollars', () => {
    const p = table.lookup('gpt-4o')!.price;
    // 1000 × $2.50/1M + 200 × 3 × $10/1M = $0.0025 + $0.006
    expect(worstCaseCostNano(p, 1000, 200, 3)).toBe(usdToNano(0.0085));
  });
  it('unknown model with a default price', () => {
    const t = buildPriceTable(PRICES, {}, { input_per_1m: 100, output_per_1m: 100 });
    expect(t.lookup('llama-3')).toMatchObject({ model: 'default', known: false });
  });
});

describe('schema refuses bad config', () => {
  const errorsOf = (c: unknown) => {
    const r = validateKongConfig(Schema, c);
    return r.ok ? [] : flattenFieldErrors(r.errors);
  };
  it('negative price, cap of 0, unknown timezone, unknown field', () => {
    expect(errorsOf({ prices: { m: { input_per_1m: -1, output_per_1m: 1 } } }).join()).toMatch(/prices\.m\.input_per_1m/);
    expect(errorsOf({ budgets: { tenant_daily_usd: 0 } }).join()).toMatch(/budgets\.tenant_daily_usd: value must be greater than 0/);
    expect(errorsOf({ global_daily_usd: 0 }).join()).toMatch(/global_daily_usd/);
    expect(errorsOf({ timezone: 'Mars/Olympus' }).join()).toMatch(/timezone: expected one of/);
    expect(errorsOf({ mode: 'loud' }).join()).toMatch(/mode/);
    expect(errorsOf({ price: {} }).join()).toMatch(/price: unknown field/);
    expect(errorsOf({ prices: PRICES, timezone: 'Asia/Kolkata', budgets: { tenant_daily_usd: 1 } })).toEqual([]);
  });
  it('unknown_model = default_price without a default price fails the instance (503 later), not the schema', () => {
    expect(() => buildEngine({ unknown_model: 'default_price' })).toThrow();
    expect(() => buildEngine({ route_id: 'x', __seq__: 3, $refs: {}, prices: PRICES })).not.toThrow();
  });
});

describe('engine against Redis, injected clock', () => {
  it('daily budget resets at local midnight in New York across the DST change; Retry-After points at it', async () => {
    const q = new CostQuota(config());
    const tenant = `ny-${seq}`;
    // $0.01 worst case per request (5000 + 5000 tokens at $1/1M); cap $0.02.
    const sub = (now: number) => q.subject(request({ tenant_id: tenant, timezone: 'America/New_York', budgets: { tenant_daily_nano: usdToNano(0.02) } }), undefined)!;
    const t0 = Date.parse('2030-03-11T03:30:00Z'); // 23:30 EDT on March 10, 2030 (the 23-hour day)
    expect((await q.admit(sub(t0), t0)).kind).toBe('allow');
    expect((await q.admit(sub(t0), t0)).kind).toBe('allow');
    const denied = await q.admit(sub(t0), t0);
    expect(denied.kind).toBe('deny');
    if (denied.kind !== 'deny') return;
    expect(denied.error.status).toBe(429);
    expect(denied.error.body.error).toEqual({ message: 'You exceeded your daily tenant budget. Please retry after it resets.', type: 'insufficient_quota', code: 'insufficient_quota', param: null });
    expect(denied.error.headers['retry-after']).toBe(String(30 * 60)); // midnight EDT = 04:00Z
    const t1 = Date.parse('2030-03-11T04:00:00Z');
    expect((await q.admit(sub(t1), t1)).kind).toBe('allow');
  });

  it('monthly budget resets at month end in Kolkata', async () => {
    const q = new CostQuota(config());
    const tenant = `in-${seq}`;
    const sub = () => q.subject(request({ tenant_id: tenant, timezone: 'Asia/Kolkata', budgets: { tenant_monthly_nano: usdToNano(0.01) } }), undefined)!;
    const t0 = Date.parse('2030-11-30T18:00:00Z'); // 23:30 IST on Nov 30
    expect((await q.admit(sub(), t0)).kind).toBe('allow');
    const d = await q.admit(sub(), t0);
    expect(d.kind === 'deny' && d.error.body.error.message).toMatch(/monthly tenant budget/);
    expect(d.kind === 'deny' && d.error.headers['retry-after']).toBe('1800');
    expect((await q.admit(sub(), Date.parse('2030-11-30T18:29:59Z'))).kind).toBe('deny');
    expect((await q.admit(sub(), Date.parse('2030-11-30T18:30:00Z'))).kind).toBe('allow');
  });

  it('key budget follows the lineage across key rotation', async () => {
    const q = new CostQuota(config());
    const tenant = `rot-${seq}`;
    const b = { key_daily_nano: usdToNano(0.01) };
    const now = Date.now();
    expect((await q.admit(q.subject(request({ tenant_id: tenant, key_id: 'k-old', lineage_id: 'L', budgets: b }), undefined)!, now)).kind).toBe('allow');
    const d = await q.admit(q.subject(request({ tenant_id: tenant, key_id: 'k-new', lineage_id: 'L', budgets: b }), undefined)!, now);
    expect(d.kind === 'deny' && d.error.body.error.message).toMatch(/daily key budget/);
    expect((await q.admit(q.subject(request({ tenant_id: tenant, key_id: 'k-other', lineage_id: 'M', budgets: b }), undefined)!, now)).kind).toBe('allow');
  });

  it('settle: actual from usage, refund on exit and 5xx, keep without usage, nothing for its own denial', async () => {
    const q = new CostQuota(config());
    const tenant = `settle-${seq}`;
    const key = `${PREFIX}{${tenant}}:cost:tenant:d:${new Date().toISOString().slice(0, 10)}`;
    const now = Date.now();
    const mk = () => q.subject(request({ tenant_id: tenant, budgets: { tenant_daily_nano: usdToNano(1) } }), undefined)!;
    const spent = async () => Number(await redis.hget(key, 's'));
    const a = mk();
    await q.admit(a, now);
    expect(await spent()).toBe(usdToNano(0.01));
    const sa = await q.settle({ subject: a, source: 'service', status: 200, usage: { v: 1, prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 } }, now);
    expect(sa).toMatchObject({ outcome: 'actual', cost_nano: usdToNano(0.0015), reserved_nano: usdToNano(0.01), via: 'redis' });
    expect(await spent()).toBe(usdToNano(0.0015));
    const usageEv = sa.events.find((e) => e.type === 'usage')!;
    expect(usageEv).toMatchObject({ tenant_id: tenant, model: 'cheap', prompt_tokens: 1000, completion_tokens: 500, cost_nano: usdToNano(0.0015), status: 200, outcome: 'actual' });

    const b = mk();
    await q.admit(b, now);
    expect((await q.settle({ subject: b, source: 'exit', status: 403 }, now)).outcome).toBe('refund');
    const c = mk();
    await q.admit(c, now);
    expect((await q.settle({ subject: c, source: 'service', status: 502 }, now)).outcome).toBe('refund');
    expect(await spent()).toBe(usdToNano(0.0015));
    const d = mk();
    await q.admit(d, now);
    expect((await q.settle({ subject: d, source: 'service', status: 200 }, now)).outcome).toBe('keep');
    expect(await spent()).toBe(usdToNano(0.0115));
    // Its own denial: the log phase must not refund another request's reservation.
    const e = mk();
    expect((await q.settle({ subject: e, source: 'exit', status: 429, decision: { v: 1, plugin: 'llm-cost-quota', reason: 'x' } }, now)).outcome).toBe('denied');
    expect(await spent()).toBe(usdToNano(0.0115));
  });

  it('a global cap refuses with its own name and gives the tenant reservation back', async () => {
    const q = new CostQuota(config({ global_daily_usd: 0.015 }));
    const now = Date.now();
    const t1 = q.subject(request({ tenant_id: `g1-${seq}`, budgets: { tenant_daily_nano: usdToNano(1) } }), undefined)!;
    const t2 = q.subject(request({ tenant_id: `g2-${seq}`, budgets: { tenant_daily_nano: usdToNano(1) } }), undefined)!;
    expect((await q.admit(t1, now)).kind).toBe('allow');
    const d = await q.admit(t2, now);
    expect(d.kind === 'deny' && d.error.body.error.message).toMatch(/daily global budget/);
    const day = new Date(now).toISOString().slice(0, 10);
    expect(Number(await redis.hget(`${PREFIX}{${t2.tenant_id}}:cost:tenant:d:${day}`, 's'))).toBe(0);
    expect(Number(await redis.hget(`${PREFIX}{*global*}:cost:global:d:${day}`, 's'))).toBe(usdToNano(0.01));
    // Settling t1 to $0.001 frees room globally for t2.
    await q.settle({ subject: t1, source: 'service', status: 200, usage: { v: 1, prompt_tokens: 500, completion_tokens: 500, total_tokens: 1000 } }, now);
    expect((await q.admit(t2, now)).kind).toBe('allow');
    await redis.del(`${PREFIX}{*global*}:cost:global:d:${day}`);
  });

  it('unknown model: deny (403) or default price; shadow mode admits and reports', async () => {
    const now = Date.now();
    const deny = new CostQuota(config());
    const r = await deny.admit(deny.subject(request({ model: 'llama-3', budgets: { tenant_daily_nano: 1e9 } }), undefined)!, now);
    expect(r.kind === 'deny' && r.error.status).toBe(403);
    const dflt = new CostQuota(config({ unknown_model: 'default_price', default_price: { input_per_1m: 1, output_per_1m: 1 } }));
    expect((await dflt.admit(dflt.subject(request({ model: 'llama-3', budgets: { tenant_daily_nano: 1e9 } }), undefined)!, now)).kind).toBe('allow');
    const shadow = new CostQuota(config({ mode: 'shadow' }));
    const tenant = `sh-${seq}`;
    const sub = () => shadow.subject(request({ tenant_id: tenant, budgets: { tenant_daily_nano: usdToNano(0.01) } }), undefined)!;
    expect((await shadow.admit(sub(), now)).kind).toBe('allow');
    const over = await shadow.admit(sub(), now);
    expect(over.kind).toBe('allow');
    expect(over.events.find((e) => e.type === 'limit')).toMatchObject({ reason: 'budget_exceeded', budget: 'tenant_daily', shadow: true });
  });

  it('spend-per-minute limit: refuses within the minute, frees at the next one', async () => {
    const q = new CostQuota(config());
    const tenant = `pm-${seq}`;
    const sub = () => q.subject(request({ tenant_id: tenant, budgets: { per_minute_nano: usdToNano(0.025), tenant_daily_nano: usdToNano(1) } }), undefined)!;
    const t0 = Date.parse('2030-06-01T10:00:05Z');
    expect((await q.admit(sub(), t0)).kind).toBe('allow');
    expect((await q.admit(sub(), t0 + 1000)).kind).toBe('allow');
    const d = await q.admit(sub(), t0 + 2000);
    expect(d.kind === 'deny' && d.error.body.error.message).toMatch(/per-minute spend limit/);
    expect(d.kind === 'deny' && d.error.headers['retry-after']).toBe('53');
    expect((await q.admit(sub(), Date.parse('2030-06-01T10:01:00Z'))).kind).toBe('allow');
  });

  it('threshold events at 80% and 100% of settled spend, once each per period', async () => {
    const q = new CostQuota(config());
    const tenant = `thr-${seq}`;
    const now = Date.now();
    const all = [];
    // 10 requests of $0.01 worst case settling at $0.01 each against a $0.10 cap.
    for (let i = 0; i < 10; i++) {
      const s = q.subject(request({ tenant_id: tenant, budgets: { tenant_daily_nano: usdToNano(0.1), thresholds_pct: [80, 100] } }), undefined)!;
      expect((await q.admit(s, now)).kind).toBe('allow');
      all.push(...(await q.settle({ subject: s, source: 'service', status: 200 }, now)).events);
    }
    const thr = all.filter((e) => e.type === 'budget_threshold');
    expect(thr.map((e) => [e.budget, e.pct, e.trigger, e.spent_nano])).toEqual([
      ['tenant_daily', 80, 'spend', usdToNano(0.08)],
      ['tenant_daily', 100, 'spend', usdToNano(0.1)],
    ]);
    expect(thr[0]).toMatchObject({ tenant_id: tenant, cap_nano: usdToNano(0.1), plugin: 'llm-cost-quota' });
    expect(thr[0]!.key_id).toBeUndefined(); // a tenant budget: no key in the event
  });

  it('budget headers: remaining of the tightest budget and seconds to its reset', async () => {
    const q = new CostQuota(config({ budget_headers: true }));
    const now = Date.parse('2030-11-23T23:00:00Z');
    const r = await q.admit(q.subject(request({ tenant_id: `h-${seq}`, budgets: { tenant_daily_nano: usdToNano(0.05), tenant_monthly_nano: usdToNano(10) } }), undefined)!, now);
    expect(r.kind === 'allow' && r.headers).toEqual({ 'x-llm-budget-remaining-usd': '0.040000', 'x-llm-budget-reset': '3600' });
  });

  it('without the input guard: identity budgets, configured model and token defaults', () => {
    const q = new CostQuota(config({ default_model: 'cheap', default_input_tokens: 10, default_max_tokens: 20, budgets: { tenant_daily_usd: 2, key_daily_usd: 1 } }));
    const s = q.subject(undefined, {
      v: 1, request_id: 'r', tenant_id: 't', method: 'api_key', key_id: 'k', scopes: { models: ['*'], features: [] }, timezone: 'Asia/Kolkata', limits: {}, input: {},
      budgets: { tenant_daily_nano: 5 },
    }) as QuotaSubject;
    expect(s).toMatchObject({ model: 'cheap', input_tokens: 10, max_tokens: 20, n: 1, lineage_id: 'k', timezone: 'Asia/Kolkata', from: 'identity' });
    expect(s.budgets).toMatchObject({ tenant_daily_nano: 5, key_daily_nano: usdToNano(1) });
  });
});
