/**
 * llm-token-limit through the Kong-protocol host (real kong-js-pluginserver processes) with the
 * mock LLM upstream and the real Redis: exactness under concurrency, reservations and their
 * settlement, concurrency slots, headers, 429 shape, events, PDK call counts.
 *
 * Time is pinned for the plugin servers (LLG_LIMIT_TEST_NOW_MS → the scripts' `now` override) so
 * no window boundary and no refill happens while a burst is in flight.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startKongHost, type DeclarativeConfig, type KongHost } from '../../test/harness/kong-host/index';
import { startMockLlm } from '../../test/harness/mock-llm/index';
import { deleteByPrefix, testPrefix } from '../../test/harness/redis';
import { statusCounts } from '../../test/harness/load';
import { identityJson } from '../../test/harness/identity';
import { groupField, packState, unpackState } from '../core/limits/redis';

const NOW = Math.floor(Date.now() / 60_000) * 60_000 + 30_000; // 30 s into a minute window
const prefix = testPrefix('token-limit-host');
const redis = new Redis({ host: '127.0.0.1', port: 6379 });
const CANARY = 'CANARY-7f3e-secret-prompt';
let llm: Awaited<ReturnType<typeof startMockLlm>>;
let host: KongHost;
let rid = 0;

const identity = (tenant: string, limits: Record<string, unknown>, requestId: string): string => identityJson({ tenant, limits, requestId });

function llmRequest(tenant: string, limits: Record<string, unknown>, requestId: string, o: { model?: string; input?: number; max?: number; n?: number } = {}): string {
  return JSON.stringify({
    v: 1,
    request_id: requestId,
    endpoint: 'chat',
    model: o.model ?? 'small-model',
    stream: false,
    input_tokens: o.input ?? 100,
    max_tokens: o.max ?? 400,
    n: o.n ?? 2,
    prompt_hash: 'h',
    include_usage_injected: false,
    tenant_id: tenant,
    key_id: 'key-1',
    lineage_id: 'lin-1',
    timezone: 'UTC',
    limits,
    budgets: {},
  });
}

const SET_REQUEST = `return function()
  local r = kong.request.get_header("x-test-llm-request")
  if r then kong.ctx.shared["llm.request"] = r end
end`;

const limiter = (extra: Record<string, unknown> = {}) => ({
  name: 'llm-token-limit',
  config: { redis_key_prefix: prefix, fault_tolerant: false, redis: { host: '127.0.0.1', port: 6379, command_timeout_ms: 5000, connect_timeout_ms: 2000 }, model_weights: { 'big-*': 2 }, ...extra },
});

function config(): DeclarativeConfig {
  return {
    _format_version: '3.0',
    services: [
      {
        name: 'llm',
        url: `${llm.url}/v1`,
        read_timeout: 10_000,
        routes: [
          { name: 'fw', paths: ['/fw'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter({ algorithm: 'fixed_window' })] },
          { name: 'tb', paths: ['/tb'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter()] },
          { name: 'sw', paths: ['/sw'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter({ algorithm: 'sliding_window' })] },
          {
            name: 'tok',
            paths: ['/tok'],
            plugins: [{ name: 'pre-function', config: { access: [SET_REQUEST] } }, limiter({ algorithm: 'fixed_window' }), { name: 'fixture-usage', config: { fixed: { prompt_tokens: 50, completion_tokens: 50 } } }],
          },
          // no usage extraction: 2xx keeps the reservation, 5xx refunds it
          { name: 'tokw', paths: ['/tokw'], plugins: [{ name: 'pre-function', config: { access: [SET_REQUEST] } }, limiter({ algorithm: 'gcra' })] },
          { name: 'cc', paths: ['/cc'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter()] },
          {
            name: 'global',
            paths: ['/global'],
            plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter({ algorithm: 'fixed_window', scope: ['tenant', 'route'], global_limits: { requests_per_minute: 3 } })],
          },
          { name: 'shadow', paths: ['/shadow'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter({ algorithm: 'fixed_window', mode: 'shadow' })] },
        ],
      },
    ],
  };
}

beforeAll(async () => {
  execFileSync('node', ['scripts/build.mjs', 'llm-token-limit', 'fixture-identity', 'fixture-usage'], { stdio: 'ignore' });
  llm = await startMockLlm();
  host = await startKongHost({ config: config(), env: { LLG_LIMIT_TEST_NOW_MS: String(NOW) } });
});

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
});

let sent = 0;
async function post(path: string, headers: Record<string, string>, body: unknown = { model: 'small-model', messages: [{ role: 'user', content: `hello ${CANARY}` }] }) {
  sent++;
  const r = await fetch(`${host.proxyUrl}${path}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer lg_live_${CANARY}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text };
}

async function limitEvents(tenant: string): Promise<Array<Record<string, string>>> {
  const entries = await redis.xrange(`${prefix}events`, '-', '+');
  return entries.map(([, fields]) => Object.fromEntries(fields.reduce<string[][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1] as string]]), []))).filter((e) => e.tenant_id === tenant);
}

/** Every request sent so far has run its log phase (the host records a trace after it): reservations are settled. */
async function settled(): Promise<void> {
  const n = sent;
  await until(async () => host.traces.length, (done) => done >= n);
  expect(host.traces.length).toBeGreaterThanOrEqual(n);
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    v = await fn();
  }
  return v;
}

describe('exactness under concurrency (one plugin server)', () => {
  it('fixed window: 500 concurrent requests against 100/min → exactly 100 admitted, one limit event per denial', { timeout: 90_000 }, async () => {
    const t = 'tenant-fw';
    const counts = await statusCounts(500, () => post('/fw', { 'x-fixture-identity': identity(t, { requests_per_minute: 100 }, `r-${++rid}`) }));
    expect(counts).toEqual({ 200: 100, 429: 400 });
    const events = await until(() => limitEvents(t), (e) => e.length >= 400);
    expect(events.length).toBe(400);
    expect(events[0]).toMatchObject({ type: 'limit', plugin: 'llm-token-limit', dimension: 'requests_per_minute', algorithm: 'fixed_window', limit: '100', via: 'redis', mode: 'enforce' });
  });

  it('token bucket (algorithm from the identity): 500 concurrent against 100/min → exactly 100', { timeout: 90_000 }, async () => {
    const counts = await statusCounts(500, () => post('/tb', { 'x-fixture-identity': identity('tenant-tb', { requests_per_minute: 100, algorithm: 'token_bucket' }, `r-${++rid}`) }));
    expect(counts).toEqual({ 200: 100, 429: 400 });
  });

  it('sliding window: never above its definition (previous window weighted)', async () => {
    const t = 'tenant-sw';
    // 60 requests in the previous minute; 30 s into this one its weight is 0.5 → 30 → 70 fit.
    await redis.hset(`${prefix}{${t}}:rl:state`, groupField({ alg: 'sw', periodMs: 60_000 }), packState([Math.floor(NOW / 60_000) - 1, 60, 0, 0, 0]));
    await redis.pexpire(`${prefix}{${t}}:rl:state`, 120_000);
    const counts = await statusCounts(200, () => post('/sw', { 'x-fixture-identity': identity(t, { requests_per_minute: 100 }, `r-${++rid}`) }));
    expect(counts).toEqual({ 200: 70, 429: 130 });
  });
});

describe('answers', () => {
  it('headers on success and on denial; 429 in OpenAI shape naming the dimension; ≤ 2 PDK calls in access', async () => {
    const t = 'tenant-hdr';
    const limits = { requests_per_minute: 2, tokens_per_minute: 5000 };
    const ok = await post('/tok', { 'x-test-llm-request': llmRequest(t, limits, `r-${++rid}`) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(ok.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(ok.headers.get('x-ratelimit-limit-tokens')).toBe('5000');
    expect(ok.headers.get('x-ratelimit-remaining-tokens')).toBe('4100'); // 100 + 400 × 2 reserved
    expect(ok.headers.get('x-ratelimit-reset-requests')).toBe('30s');
    expect(ok.headers.get('ratelimit-limit')).toBe('2');
    expect(ok.headers.get('ratelimit-remaining')).toBe('1');
    expect(ok.headers.get('ratelimit-reset')).toBe('30');
    await post('/tok', { 'x-test-llm-request': llmRequest(t, limits, `r-${++rid}`) });
    const no = await post('/tok', { 'x-test-llm-request': llmRequest(t, limits, `r-${++rid}`) });
    expect(no.status).toBe(429);
    expect(JSON.parse(no.text)).toEqual({
      error: { message: 'Rate limit reached for requests per minute. Please retry after 30 seconds.', type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null },
    });
    expect(no.headers.get('retry-after')).toBe('30');
    expect(no.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(no.headers.get('ratelimit-remaining')).toBe('0');
    const traces = host.traces.filter((tr) => tr.path.startsWith('/tok')).slice(-3);
    for (const tr of traces) {
      const calls = tr.pdkCalls.filter((c) => c.plugin === 'llm-token-limit' && c.phase === 'access');
      expect(calls.length).toBeLessThanOrEqual(2);
    }
  });

  it('without llm.request and llm.identity: 503 (require_identity)', async () => {
    const r = await post('/fw', {});
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).error.code).toBe('identity_missing');
  });
});

describe('token reservations', () => {
  it('50 concurrent requests whose reservations pass tokens/min: admitted ones never exceed it; the refund after settling is usable', async () => {
    const t = 'tenant-tok';
    const limits = { tokens_per_minute: 10_000 };
    // the upstream answers slowly, so no reservation is settled while the burst is decided
    const send = (delay = '1500') => post('/tok', { 'x-test-llm-request': llmRequest(t, limits, `r-${++rid}`), 'x-mock-delay-ms': delay });
    // each reserves 100 + 400 × 2 = 900: 11 fit in 10 000
    expect(await statusCounts(50, () => send())).toEqual({ 200: 11, 429: 39 });
    // settled in the log phase to the actual 100 tokens each: 10 000 − 1 100 = 8 900 → 9 more fit
    await settled();
    expect(await statusCounts(50, () => send())).toEqual({ 200: 9, 429: 41 });
  });

  it('model weights multiply the reservation (GCRA); an upstream 5xx refunds it; 2xx without usage keeps it', async () => {
    const t = 'tenant-weight';
    const limits = { tokens_per_minute: 10_000 };
    const send = (h: Record<string, string> = {}) => post('/tokw', { 'x-test-llm-request': llmRequest(t, limits, `r-${++rid}`, { model: 'big-model' }), ...h });
    // 900 × 2 = 1 800: 5 fit; all five fail upstream (500) → refunded
    expect(await statusCounts(8, () => send({ 'x-mock-status': '500', 'x-mock-delay-ms': '1500' }))).toEqual({ 500: 5, 429: 3 });
    await settled();
    expect(await statusCounts(8, () => send())).toEqual({ 200: 5, 429: 3 });
    // 2xx without usage keeps the reservation (charged at worst case)
    await settled();
    expect(await statusCounts(8, () => send())).toEqual({ 429: 8 });
  });
});

describe('concurrency', () => {
  it('one slot per in-flight request, freed in the log phase', async () => {
    const t = 'tenant-cc';
    const send = () => post('/cc', { 'x-fixture-identity': identity(t, { concurrent_requests: 3 }, `r-${++rid}`), 'x-mock-delay-ms': '2000' });
    expect(await statusCounts(10, send)).toEqual({ 200: 3, 429: 7 });
    await until(() => redis.zcard(`${prefix}{${t}}:rl:cc`), (n) => n === 0);
    expect(await statusCounts(10, send)).toEqual({ 200: 3, 429: 7 });
  });

  it('a request id already in flight is refused and does not free the first one\'s slot', async () => {
    const t = 'tenant-dup';
    const id = identity(t, { concurrent_requests: 5 }, 'same-id');
    const first = post('/cc', { 'x-fixture-identity': id, 'x-mock-delay-ms': '2500' });
    await until(() => redis.zscore(`${prefix}{${t}}:rl:cc`, 'same-id'), (v) => v !== null);
    const dup = await post('/cc', { 'x-fixture-identity': id });
    expect(dup.status).toBe(429);
    await new Promise((r) => setTimeout(r, 200)); // the refused request's log phase has run
    expect(await redis.zscore(`${prefix}{${t}}:rl:cc`, 'same-id')).not.toBeNull();
    expect((await first).status).toBe(200);
  });
});

describe('global limits and shadow mode', () => {
  it('a global limit is shared by tenants; a global refusal gives the tenant\'s debit back', async () => {
    const limits = { requests_per_minute: 100 };
    const a = await statusCounts(5, () => post('/global', { 'x-fixture-identity': identity('tenant-ga', limits, `r-${++rid}`) }));
    expect(a).toEqual({ 200: 3, 429: 2 });
    expect(await statusCounts(2, () => post('/global', { 'x-fixture-identity': identity('tenant-gb', limits, `r-${++rid}`) }))).toEqual({ 429: 2 });
    // tenant A's own counter holds only the 3 admitted requests: the 2 refused globally were rolled back
    // route scope: Kong passes the plugin's route_id in its config
    const [stateKey] = await redis.keys(`${prefix}{tenant-ga}:rl:r=*:state`);
    expect(stateKey).toMatch(/:rl:r=[^-][^:]*:state$/);
    await settled();
    const [, count] = unpackState(await redis.hgetBuffer(stateKey as string, groupField({ alg: 'fw', periodMs: 60_000 })));
    expect(count).toBe(3);
    const no = await post('/global', { 'x-fixture-identity': identity('tenant-gc', limits, `r-${++rid}`) });
    expect(JSON.parse(no.text).error.message).toContain('requests per minute (shared by all tenants)');
    const ev = await until(() => limitEvents('tenant-gc'), (e) => e.length >= 1);
    expect(ev[0]).toMatchObject({ scope: 'global', dimension: 'requests_per_minute' });
  });

  it('shadow mode admits everything and reports would-be refusals as events', async () => {
    const t = 'tenant-shadow';
    expect(await statusCounts(5, () => post('/shadow', { 'x-fixture-identity': identity(t, { requests_per_minute: 2 }, `r-${++rid}`) }))).toEqual({ 200: 5 });
    const ev = await until(() => limitEvents(t), (e) => e.length >= 3);
    expect(ev.length).toBe(3);
    expect(ev[0]).toMatchObject({ mode: 'shadow', dimension: 'requests_per_minute' });
  });
});

describe('never logs or emits secrets', () => {
  it('the canary from the body and the Authorization header appears in no log line and no event', async () => {
    const all = await redis.xrange(`${prefix}events`, '-', '+');
    expect(all.length).toBeGreaterThan(0);
    expect(JSON.stringify(all)).not.toContain(CANARY);
    expect(JSON.stringify(host.logs)).not.toContain(CANARY);
  });
});
