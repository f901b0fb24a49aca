/**
 * llm-cost-quota through the Kong-protocol host: real kong-js-pluginserver processes, real Redis
 * (own key prefix), fixture-identity for the identity, fixture-usage for usage, a gated upstream
 * so the concurrency test does not depend on timing, the mock LLM for streams, the fault proxy
 * for the Redis drill. Builds its bundles first (scripts/build.mjs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Redis from 'ioredis';
import { startKongHost, type DeclarativeConfig, type KongHost } from '../../test/harness/kong-host';
import { startMockLlm } from '../../test/harness/mock-llm';
import { startFaultProxy, type FaultProxy } from '../../test/harness/fault-proxy';
import { deleteByPrefix, testPrefix } from '../../test/harness/redis';
import { identityJson } from '../../test/harness/identity';
import { streamFieldsToEvent } from '../core/events';
import { usdToNano } from '../core/money';
import { calendarPeriods, localParts } from '../core/periods';

const PREFIX = testPrefix('cost-handler');
const redis = new Redis('redis://127.0.0.1:6379');
const CANARY_PROMPT = 'CANARY-PROMPT-7f3a9c';
const CANARY_KEY = 'lg_live_CANARYKEY9b8c7d6e5f';
// A zone whose local time is far from midnight, so no test straddles a day boundary.
const TZ = ['UTC', 'Asia/Tokyo', 'America/New_York', 'Asia/Kolkata', 'Europe/Berlin'].find((z) => {
  const h = localParts(Date.now(), z).hour;
  return h >= 2 && h <= 20;
})!;
const DAY = () => calendarPeriods(Date.now(), TZ).day.id;

// Gated upstream: holds every request until release() and answers with usage 100 + 50 tokens.
let gate: Server;
let gateUrl: string;
const held: ServerResponse[] = [];
let releaseAll = false;
let admittedCount = 0;
function answer(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'mock-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 } }));
}

let llm: Awaited<ReturnType<typeof startMockLlm>>;
let host: KongHost;
let proxy: FaultProxy;

const PRICES = { 'mock-model': { input_per_1m: 1, output_per_1m: 1 } };
function quota(over: Record<string, unknown> = {}) {
  return {
    name: 'llm-cost-quota',
    config: { prices: PRICES, default_model: 'mock-model', default_input_tokens: 5000, default_max_tokens: 5000, redis_key_prefix: PREFIX, budget_headers: true, ...over },
  };
}
const identityPlugin = { name: 'fixture-identity', config: { from_header: true } };

function identity(tenant: string, budgets: Record<string, number>, requestId: string, extra: Record<string, unknown> = {}): string {
  return identityJson({ tenant, budgets, requestId, timezone: TZ, extra });
}

let rid = 0;
function call(path: string, tenant: string, budgets: Record<string, number>, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return fetch(`${host.proxyUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CANARY_KEY}`, 'x-fixture-identity': identity(tenant, budgets, `req-${++rid}`), ...headers },
    body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: CANARY_PROMPT }], ...body }),
  });
}

async function until<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, what: string, ms = 25_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function events(): Promise<Array<Record<string, string>>> {
  const entries = await redis.xrange(`${PREFIX}events`, '-', '+');
  return entries.map(([, fields]) => streamFieldsToEvent(fields));
}

const spent = async (key: string) => {
  const h = await redis.hgetall(key);
  return { s: Number(h.s ?? 0), c: Number(h.c ?? 0) };
};

beforeAll(async () => {
  // Bundle this plugin and the fixtures it runs with (the guard only when it was never built).
  execFileSync('node', ['scripts/build.mjs', 'llm-cost-quota', 'fixture-identity', 'fixture-usage'], { stdio: 'ignore' });
  if (!existsSync('dist/kong-plugins/llm-input-guard/llm-input-guard.cjs')) execFileSync('node', ['scripts/build.mjs', 'llm-input-guard'], { stdio: 'ignore' });
  gate = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => (releaseAll ? answer(res) : held.push(res)));
  });
  await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
  gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
  llm = await startMockLlm();
  proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: 6379 });
  const viaProxy = { host: proxy.host, port: proxy.port, command_timeout_ms: 150, connect_timeout_ms: 150, breaker_open_ms: 300 };
  const config: DeclarativeConfig = {
    _format_version: '3.0',
    services: [
      {
        name: 'gated',
        url: `${gateUrl}/v1`,
        read_timeout: 20_000,
        // Redis is healthy here; a generous command timeout keeps a CPU-starved test machine from
        // reading a slow reply as "Redis down" (which would switch to the per-node fallback).
        routes: [{ name: 'burst', paths: ['/burst'], plugins: [identityPlugin, quota({ redis: { command_timeout_ms: 10_000 } }), { name: 'fixture-usage' }] }],
      },
      {
        name: 'llm',
        url: `${llm.url}/v1`,
        routes: [
          { name: 'keep', paths: ['/keep'], plugins: [identityPlugin, quota()] },
          { name: 'guarded', paths: ['/guarded'], plugins: [identityPlugin, { name: 'llm-input-guard' }, quota(), { name: 'fixture-usage' }] },
          { name: 'usage', paths: ['/usage'], plugins: [identityPlugin, quota(), { name: 'fixture-usage' }] },
          // Kong's post-function runs after us in access (priority -1000) and refuses: a later plugin's exit.
          { name: 'exit', paths: ['/exit'], plugins: [identityPlugin, quota(), { name: 'post-function', config: { access: ['return function() return kong.response.exit(403, { message = "refused later" }) end'] } }] },
          { name: 'noid', paths: ['/noid'], plugins: [quota()] },
          { name: 'tolerant', paths: ['/tolerant'], plugins: [identityPlugin, quota({ redis: viaProxy, fault_tolerant: true })] },
          { name: 'strict', paths: ['/strict'], plugins: [identityPlugin, quota({ redis: viaProxy, fault_tolerant: false })] },
        ],
      },
    ],
  };
  host = await startKongHost({ config });
});

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
  await proxy?.stop();
  releaseAll = true;
  for (const r of held.splice(0)) answer(r);
  await new Promise<void>((r) => gate.close(() => r()));
  await deleteByPrefix(redis, PREFIX);
  redis.disconnect();
});

describe('llm-cost-quota through the Kong-protocol host', () => {
  it('200 concurrent $0.01 requests against a $1.00 daily cap: exactly 100 pass, spend never above $1.00; settling refunds let more in', async () => {
    const tenant = 'burst-tenant';
    const budgets = { tenant_daily_nano: usdToNano(1) };
    const key = `${PREFIX}{${tenant}}:cost:tenant:d:${DAY()}`;
    const denied: Response[] = [];
    const dayEnd = calendarPeriods(Date.now(), TZ).day.end_ms;
    const secondsToMidnight = Math.ceil((dayEnd - Date.now()) / 1000);
    const pending = Array.from({ length: 200 }, () =>
      call('/burst/chat/completions', tenant, budgets).then(async (r) => {
        if (r.status !== 200) denied.push(r);
        return r;
      }),
    );
    // Every request is decided: held by the upstream (admitted) or answered 429.
    try {
      await until(() => held.length + denied.length, (n) => n === 200, 'all 200 decided');
    } finally {
      admittedCount = held.length;
      releaseAll = true;
    }
    expect(admittedCount).toBe(100);
    expect(denied).toHaveLength(100);
    expect(await spent(key)).toEqual({ s: usdToNano(1), c: 0 });
    const d = denied[0]!;
    expect(d.status).toBe(429);
    expect(await d.json()).toEqual({ error: { message: 'You exceeded your daily tenant budget. Please retry after it resets.', type: 'insufficient_quota', code: 'insufficient_quota', param: null } });
    const retryAfter = Number(d.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(secondsToMidnight + 1);

    // Release: each settles to 150 tokens × $1/1M = $0.00015.
    for (const r of held.splice(0)) answer(r);
    const done = await Promise.all(pending);
    const remaining = done.filter((r) => r.status === 200).map((r) => r.headers.get('x-llm-budget-remaining-usd'));
    // Each admitted request saw its own slot: remaining 0.99, 0.98, ... 0.00 — never below zero.
    expect(new Set(remaining).size).toBe(100);
    expect(remaining).toContain('0.000000');
    await until(() => spent(key), (v) => v.s === 100 * 150_000, 'settled spend');
    expect(await spent(key)).toEqual({ s: 15_000_000, c: 15_000_000 });

    // The refund lets further requests in.
    const more = await Promise.all(Array.from({ length: 10 }, () => call('/burst/chat/completions', tenant, budgets)));
    expect(more.map((r) => r.status)).toEqual(Array(10).fill(200));
    await until(() => spent(key), (v) => v.c === 110 * 150_000, 'second settle');

    // One usage event per request, one 100% threshold event (the first refusal), none at 80%.
    const evs = (await events()).filter((e) => e.tenant_id === tenant);
    await until(events, (all) => all.filter((e) => e.tenant_id === tenant && e.type === 'usage').length === 210, 'usage events');
    const all = (await events()).filter((e) => e.tenant_id === tenant);
    expect(all.filter((e) => e.type === 'budget_threshold')).toEqual([expect.objectContaining({ budget: 'tenant_daily', pct: '100', trigger: 'denied', period: DAY() })]);
    const usage = all.filter((e) => e.type === 'usage');
    expect(usage.filter((e) => e.outcome === 'denied')).toHaveLength(100);
    expect(usage.filter((e) => e.outcome === 'actual' && e.cost_nano === '150000' && e.prompt_tokens === '100' && e.completion_tokens === '50' && e.status === '200')).toHaveLength(110);
    expect(evs.length).toBeGreaterThan(0);
  }, 60_000);

  it('access makes at most 2 PDK calls on the way through (identity read + headers)', async () => {
    const r = await call('/usage/chat/completions', 'pdk-tenant', { tenant_daily_nano: usdToNano(1) });
    expect(r.status).toBe(200);
    const t = await until(() => host.traces.find((x) => x.path === '/usage/chat/completions' && x.pdkCalls.some((c) => c.plugin === 'llm-cost-quota' && c.phase === 'log')), (x) => !!x, 'trace');
    const access = t!.pdkCalls.filter((c) => c.plugin === 'llm-cost-quota' && c.phase === 'access').map((c) => c.method);
    // Without the input guard: llm.request (absent), then llm.identity; headers add one.
    expect(access).toEqual(['kong.ctx.shared.get', 'kong.ctx.shared.get', 'kong.response.set_headers']);
  });

  it('behind llm-input-guard: one ctx read (llm.request) + headers, reserved from its estimate, settled to usage', async () => {
    const r = await call('/guarded/chat/completions', 'guarded-tenant', { tenant_daily_nano: usdToNano(1) }, { max_tokens: 100 }, { 'x-mock-usage': '40,60' });
    expect(r.status).toBe(200);
    // Worst case = guard's input estimate + 100 output tokens at $1/1M: a little over $0.0001.
    const remaining = Number(r.headers.get('x-llm-budget-remaining-usd'));
    expect(remaining).toBeLessThan(0.9999);
    expect(remaining).toBeGreaterThan(0.999);
    const t = await until(() => host.traces.find((x) => x.path === '/guarded/chat/completions'), (x) => !!x, 'trace');
    expect(t!.pdkCalls.filter((c) => c.plugin === 'llm-cost-quota' && c.phase === 'access').map((c) => c.method)).toEqual(['kong.ctx.shared.get', 'kong.response.set_headers']);
    await until(() => spent(`${PREFIX}{guarded-tenant}:cost:tenant:d:${DAY()}`), (v) => v.c === 100_000, 'settled to 100 tokens');
  });

  it('a stream with no response-phase plugin keeps its reservation; with a usage-writing plugin it settles', async () => {
    const budgets = { tenant_daily_nano: usdToNano(1) };
    const body = { stream: true, stream_options: { include_usage: true } };
    const r1 = await call('/keep/chat/completions', 'stream-keep', budgets, body, { 'x-mock-usage': '10,20' });
    expect(r1.status).toBe(200);
    expect(await r1.text()).toContain('data: [DONE]');
    const k1 = `${PREFIX}{stream-keep}:cost:tenant:d:${DAY()}`;
    await until(() => spent(k1), (v) => v.c > 0, 'keep settle');
    expect(await spent(k1)).toEqual({ s: usdToNano(0.01), c: usdToNano(0.01) }); // worst case charged
    const r2 = await call('/usage/chat/completions', 'stream-usage', budgets, body, { 'x-mock-usage': '10,20' });
    expect(r2.status).toBe(200);
    expect(await r2.text()).toContain('data: [DONE]');
    const k2 = `${PREFIX}{stream-usage}:cost:tenant:d:${DAY()}`;
    await until(() => spent(k2), (v) => v.c > 0, 'usage settle');
    expect(await spent(k2)).toEqual({ s: 30_000, c: 30_000 }); // 30 tokens × $1/1M
  });

  it('a later plugin that refuses (exit) and an upstream 5xx refund the reservation', async () => {
    const budgets = { tenant_daily_nano: usdToNano(1) };
    const r = await call('/exit/chat/completions', 'refund-exit', budgets);
    expect(r.status).toBe(403);
    const r5 = await call('/keep/chat/completions', 'refund-5xx', budgets, {}, { 'x-mock-status': '500' });
    expect(r5.status).toBe(500);
    await until(events, (all) => all.filter((e) => (e.tenant_id === 'refund-exit' || e.tenant_id === 'refund-5xx') && e.type === 'usage').length === 2, 'usage events');
    // Both were reserved in access (worst case $0.01) and refunded in log.
    const refunds = (await events()).filter((e) => (e.tenant_id === 'refund-exit' || e.tenant_id === 'refund-5xx') && e.type === 'usage');
    expect(refunds.map((e) => [e.tenant_id, e.outcome, e.reserved_nano, e.cost_nano, e.status, e.source]).sort()).toEqual([
      ['refund-5xx', 'refund', '10000000', '0', '500', 'service'],
      ['refund-exit', 'refund', '10000000', '0', '403', 'exit'],
    ]);
    expect(await spent(`${PREFIX}{refund-exit}:cost:tenant:d:${DAY()}`)).toEqual({ s: 0, c: 0 });
    expect(await spent(`${PREFIX}{refund-5xx}:cost:tenant:d:${DAY()}`)).toEqual({ s: 0, c: 0 });
  });

  it('without an identity it fails closed (503, require_identity)', async () => {
    const r = await fetch(`${host.proxyUrl}/noid/chat/completions`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe('service_unavailable');
  });

  it('Redis drill through the fault proxy: fault_tolerant → in-memory budgets, strict → 503, never 500; recovery without restart', async () => {
    const budgets = { tenant_daily_nano: usdToNano(0.02) };
    expect((await call('/tolerant/chat/completions', 'drill-t', budgets)).status).toBe(200);
    proxy.setMode('blackhole');
    const tolerant = [];
    for (let i = 0; i < 3; i++) tolerant.push((await call('/tolerant/chat/completions', 'drill-t2', budgets)).status);
    // In memory the same cap holds: two $0.01 requests fit, the third does not.
    expect(tolerant).toEqual([200, 200, 429]);
    const strict = await call('/strict/chat/completions', 'drill-s', budgets);
    expect(strict.status).toBe(503);
    expect(strict.headers.get('retry-after')).toBe('1');
    proxy.setMode('reset');
    expect((await call('/strict/chat/completions', 'drill-s', budgets)).status).toBe(503);
    expect([200, 429]).toContain((await call('/tolerant/chat/completions', 'drill-t3', budgets)).status);
    proxy.setMode('pass');
    // After the breaker's open time, Redis is used again.
    const back = await until(() => call('/strict/chat/completions', 'drill-s2', budgets).then((r) => r.status), (s) => s === 200, 'recovery');
    expect(back).toBe(200);
    // 500s only from the mock upstream (x-mock-status), never from the gateway.
    expect(host.traces.filter((t) => t.status === 500 && t.source !== 'service')).toEqual([]);
    expect(host.logs.some((l) => l.plugin === 'llm-cost-quota' && /budgets enforced in memory/.test(l.message))).toBe(true);
  });

  it('the host (as Kong) refuses bad config by the reported schema: negative price, cap of 0, unknown timezone', async () => {
    const bad = (config: Record<string, unknown>): DeclarativeConfig => ({
      _format_version: '3.0',
      services: [{ name: 'llm', url: `${llm.url}/v1`, routes: [{ name: 'r', paths: ['/r'], plugins: [{ name: 'llm-cost-quota', config }] }] }],
    });
    await expect(host.reload(bad({ prices: { m: { input_per_1m: -1, output_per_1m: 1 } } }))).rejects.toThrow(/input_per_1m/);
    await expect(host.reload(bad({ budgets: { tenant_daily_usd: 0 } }))).rejects.toThrow(/tenant_daily_usd/);
    await expect(host.reload(bad({ timezone: 'Mars/Olympus' }))).rejects.toThrow(/timezone/);
    // The running config is untouched.
    expect((await fetch(`${host.proxyUrl}/noid/chat/completions`, { method: 'POST', body: '{}' })).status).toBe(503);
  });

  it('never logs or emits prompts or keys', async () => {
    const text = JSON.stringify(host.logs) + JSON.stringify(await events());
    expect(text).not.toContain(CANARY_PROMPT);
    expect(text).not.toContain(CANARY_KEY);
  });
});
