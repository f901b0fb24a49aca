/**
 * llm-auth through the Kong-protocol host and a real kong-js-pluginserver: API keys (Redis
 * records, static keys), Kong consumers, revocation over pub/sub, rotation, feature
 * authorisation, failed-auth throttling, Redis outages (fault proxy), broken configs, PDK call
 * counts, and canary secrets that must appear in no log line and no event.
 * Assumes `npm run build` (or `node scripts/build.mjs llm-auth`) ran.
 */
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKongHost, type DeclarativeConfig, type KongHost } from '../harness/kong-host';
import { startMockLlm, type MockLlm } from '../harness/mock-llm';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
import { deleteByPrefix, redisUrl, testPrefix } from '../harness/redis';
import { generateApiKey, keyRecordRedisKey, revocationChannel, type KeyRecord } from '../../plugins/core/keys';
import { decodeCtx } from '../../plugins/core/context';
import { streamFieldsToEvent } from '../../plugins/core/events';
import { TENANTS, TIERS } from '../../plugins/llm-auth/testing/fixtures';

const prefix = testPrefix('e2e-auth');
const downPrefix = prefix + 'down:';
const throttlePrefix = prefix + 'thr:';
const redis = new Redis(redisUrl());
const PROVIDER_SECRET = 'sk-provider-CANARY-8d1e55';
const KONG_KEY = 'kong-consumer-key-CANARY-41';

let llm: MockLlm;
let host: KongHost;
let proxy: FaultProxy;

const keys = {
  acme: generateApiKey(),
  small: generateApiKey(),
  revokeMe: generateApiKey(),
  oldRotated: generateApiKey(),
  oldExpired: generateApiKey(),
  newRotated: generateApiKey(),
  disabled: generateApiKey(),
  narrow: generateApiKey(),
  staticKey: generateApiKey(),
  down1: generateApiKey(),
  down2: generateApiKey(),
  thr: generateApiKey(),
};
const unknownKey = generateApiKey();

function record(id: string, tenant: string, over: Partial<KeyRecord> = {}): KeyRecord {
  return { v: 1, key_id: id, tenant_id: tenant, lineage_id: `lin_${id}`, prefix: 'lg_live_' + id.slice(0, 4), revoked: false, ...over };
}

async function putKey(p: string, k: { hash: string }, r: KeyRecord) {
  await redis.set(keyRecordRedisKey(p, k.hash), JSON.stringify(r));
}

// The fail-closed sentinel shipped in kong/kong.yml: Kong's bundled post-function, last in access.
const SENTINEL = `return function()
  if not kong.ctx.shared["llm.identity"] then
    return kong.response.exit(503, { error = { message = "The gateway cannot process this request right now.", type = "service_unavailable", code = "gateway_unavailable" } })
  end
end`;

const redisCfg = { host: '127.0.0.1', port: 6379, command_timeout_ms: 2000 };
const common = {
  tiers: TIERS,
  tenants: TENANTS,
  upstream_auth: { header: 'authorization', scheme: 'Bearer', value: '{vault://env/LLG_TEST_PROVIDER_KEY}' },
  throttle: { enabled: false },
};

function route(name: string, auth: Record<string, unknown>, extra: Array<Record<string, unknown>> = []) {
  return {
    name,
    paths: [`/${name}`],
    strip_path: true,
    plugins: [{ name: 'llm-auth', config: { ...common, ...auth } }, { name: 'fixture-echo-ctx', config: { keys: ['llm.identity'] } }, ...extra],
  };
}

beforeAll(async () => {
  llm = await startMockLlm();
  proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: 6379 });
  const now = Date.now();
  await putKey(prefix, keys.acme, record('k_acme', 'acme'));
  await putKey(prefix, keys.small, record('k_small', 'small'));
  await putKey(prefix, keys.revokeMe, record('k_rev', 'acme'));
  // Rotation: old and new keys share a lineage; the old one is valid until its own expires_at.
  await putKey(prefix, keys.oldRotated, record('k_old', 'acme', { lineage_id: 'lin_rot', expires_at: now + 3_600_000 }));
  await putKey(prefix, keys.oldExpired, record('k_older', 'acme', { lineage_id: 'lin_rot', expires_at: now - 1000 }));
  await putKey(prefix, keys.newRotated, record('k_new', 'acme', { lineage_id: 'lin_rot' }));
  await putKey(prefix, keys.disabled, record('k_dis', 'gone'));
  await putKey(prefix, keys.narrow, record('k_narrow', 'big', { scopes: { features: ['chat_support'] } }));
  await putKey(downPrefix, keys.down1, record('k_d1', 'acme'));
  await putKey(downPrefix, keys.down2, record('k_d2', 'acme'));
  await putKey(throttlePrefix, keys.thr, record('k_thr', 'acme'));
  const config: DeclarativeConfig = {
    _format_version: '3.0',
    consumers: [
      { username: 'acme-consumer', keyauth_credentials: [{ key: KONG_KEY }] },
      { username: 'stranger', keyauth_credentials: [{ key: 'stranger-key' }] },
      { username: 'tagged', tags: ['llg-tenant:small'], keyauth_credentials: [{ key: 'tagged-key' }] },
    ],
    services: [
      {
        name: 'llm',
        url: llm.url,
        routes: [
          route('keys', { methods: ['api_key'], redis: redisCfg, redis_key_prefix: prefix, cache: { ttl_seconds: 300 }, keys: [{ hash: keys.staticKey.hash, tenant: 'small', key_id: 'k_static', prefix: keys.staticKey.prefix }] }),
          route('xkey', { methods: ['api_key'], api_key_header: 'x-api-key', redis: redisCfg, redis_key_prefix: prefix }),
          route('bulk', { methods: ['api_key'], redis: redisCfg, redis_key_prefix: prefix, route_feature: 'bulk_processing' }),
          route('nokeys', { methods: ['api_key'] }),
          {
            ...route('consumer', { methods: ['consumer'] }),
            plugins: [{ name: 'key-auth', config: { hide_credentials: true } }, { name: 'llm-auth', config: { ...common, methods: ['consumer'] } }, { name: 'fixture-echo-ctx', config: { keys: ['llm.identity'] } }],
          },
          route('down', { methods: ['api_key'], redis: { host: proxy.host, port: proxy.port, connect_timeout_ms: 1000, command_timeout_ms: 1000 }, redis_key_prefix: downPrefix, cache: { ttl_seconds: 3 } }),
          route('throttle', { methods: ['api_key'], redis: redisCfg, redis_key_prefix: throttlePrefix, throttle: { enabled: true, max_failures: 3, window_seconds: 60, block_seconds: 60 } }),
          {
            ...route('guarded', { methods: ['api_key'], redis: redisCfg, redis_key_prefix: prefix }),
            plugins: [{ name: 'llm-auth', config: { ...common, methods: ['api_key'], redis: redisCfg, redis_key_prefix: prefix } }, { name: 'post-function', config: { access: [SENTINEL] } }],
          },
          route('broken', { methods: ['mtls'], mtls: { ca_certificates: ['-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----'] } }),
        ],
      },
    ],
  };
  host = await startKongHost({ config, env: { ...process.env, LLG_TEST_PROVIDER_KEY: PROVIDER_SECRET } });
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
  await proxy?.stop();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
});

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  identity: ReturnType<typeof decodeCtx<'llm.identity'>>;
}

async function call(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(`${host.proxyUrl}${path}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, body, identity: decodeCtx('llm.identity', r.headers.get('x-ctx-llm-identity') ?? undefined) };
}

/** The access-phase PDK calls llm-auth made for the next request on `route` (traces land after the log phase). */
async function accessCalls(route: string, send: () => Promise<Reply>): Promise<{ reply: Reply; calls: string[] }> {
  const n = host.traces.length;
  const reply = await send();
  const start = Date.now();
  let t;
  while (!(t = host.traces.slice(n).find((x) => x.route === route)) && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 10));
  if (!t) throw new Error('no trace');
  return { reply, calls: t.pdkCalls.filter((c) => c.plugin === 'llm-auth' && c.phase === 'access').map((c) => c.method) };
}

const bearer = (k: { key: string }) => ({ authorization: `Bearer ${k.key}` });
const lastUpstream = () => llm.requests.at(-1);

function expectRefused(r: Reply, status: number) {
  expect(r.status).toBe(status);
  expect(r.identity).toBeUndefined();
  expect(r.body.error).toMatchObject({ type: expect.any(String), code: expect.any(String) });
}

describe('API keys', () => {
  it('a valid key → upstream sees the provider credential, never the client key; llm.identity is set', async () => {
    const before = llm.requests.length;
    const r = await call('/keys', { ...bearer(keys.acme), 'x-request-id': 'req-e2e-1', 'x-llm-feature': 'document_analysis' });
    expect(r.status).toBe(200);
    expect(llm.requests.length).toBe(before + 1);
    const up = lastUpstream()!;
    expect(up.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    expect(JSON.stringify(up.headers)).not.toContain(keys.acme.key);
    expect(up.headers['x-request-id']).toBe('req-e2e-1');
    expect(r.identity).toMatchObject({
      client_request_id: 'req-e2e-1',
      tenant_id: 'acme',
      tier: 'pro',
      method: 'api_key',
      key_id: 'k_acme',
      lineage_id: 'lin_k_acme',
      feature: 'document_analysis',
      timezone: 'Europe/Berlin',
      limits: { requests_per_minute: 600 },
      budgets: { tenant_daily_nano: 100_000_000_000 },
    });
  });

  it('PDK calls in access: 3 without throttling (get_headers, ctx set, set_headers)', async () => {
    const { reply, calls } = await accessCalls('keys', () => call('/keys', bearer(keys.acme)));
    expect(reply.status).toBe(200);
    expect(calls).toEqual(['kong.request.get_headers', 'kong.ctx.shared.set', 'kong.service.request.set_headers']);
  });

  it('a key in a custom header is removed upstream and replaced by the provider credential', async () => {
    const r = await call('/xkey', { 'x-api-key': keys.acme.key });
    expect(r.status).toBe(200);
    const up = lastUpstream()!;
    expect(up.headers['x-api-key'] ?? '').not.toContain(keys.acme.key);
    expect(up.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
  });

  it('a static key (no Redis lookup) works; without Redis or static keys every key is refused', async () => {
    const r = await call('/keys', bearer(keys.staticKey));
    expect(r.status).toBe(200);
    expect(r.identity).toMatchObject({ tenant_id: 'small', method: 'static_key', key_id: 'k_static' });
    expectRefused(await call('/nokeys', bearer(keys.acme)), 401);
  });

  it('missing, malformed and unknown keys → 401 with WWW-Authenticate; unknown/expired/revoked share one message', async () => {
    const missing = await call('/keys');
    expectRefused(missing, 401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="llm"');
    const malformed = await call('/keys', { authorization: 'Bearer lg_live_0OIl' });
    expectRefused(malformed, 401);
    const unknown = await call('/keys', bearer(unknownKey));
    expectRefused(unknown, 401);
    expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const expired = await call('/keys', bearer(keys.oldExpired));
    expectRefused(expired, 401);
    expect(expired.body).toEqual(unknown.body);
  });

  it('rotation: the old key works inside its overlap, not after it; old and new share the lineage', async () => {
    const old = await call('/keys', bearer(keys.oldRotated));
    const fresh = await call('/keys', bearer(keys.newRotated));
    expect(old.status).toBe(200);
    expect(fresh.status).toBe(200);
    expect(old.identity?.lineage_id).toBe('lin_rot');
    expect(fresh.identity?.lineage_id).toBe('lin_rot');
    expectRefused(await call('/keys', bearer(keys.oldExpired)), 401);
  });

  it('a revoked key is refused within 1 s of the pub/sub message (cache TTL is 300 s)', async () => {
    expect((await call('/keys', bearer(keys.revokeMe))).status).toBe(200);
    expect((await call('/keys', bearer(keys.revokeMe))).status).toBe(200);
    await putKey(prefix, keys.revokeMe, record('k_rev', 'acme', { revoked: true }));
    const published = Date.now();
    await redis.publish(revocationChannel(prefix), keys.revokeMe.hash);
    let r: Reply;
    do {
      r = await call('/keys', bearer(keys.revokeMe));
    } while (r.status === 200 && Date.now() - published < 2000);
    const elapsed = Date.now() - published;
    expectRefused(r, 401);
    expect(elapsed).toBeLessThan(1000);
  });

  it('concurrent requests with different keys each get their own identity (no shared per-request state)', async () => {
    const jobs = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? keys.acme : i % 3 === 1 ? keys.small : unknownKey));
    const replies = await Promise.all(jobs.map((k, i) => call('/keys', { ...bearer(k), 'x-request-id': `conc-${i}` })));
    replies.forEach((r, i) => {
      const k = jobs[i];
      if (k === unknownKey) return expectRefused(r, 401);
      expect(r.status).toBe(200);
      expect(r.identity).toMatchObject({ client_request_id: `conc-${i}`, tenant_id: k === keys.acme ? 'acme' : 'small' });
    });
  });

  it('a disabled tenant → 403; key scopes narrow the tenant features', async () => {
    expectRefused(await call('/keys', bearer(keys.disabled)), 403);
    const ok = await call('/keys', { ...bearer(keys.narrow), 'x-llm-feature': 'chat_support' });
    expect(ok.status).toBe(200);
    expect(ok.identity?.scopes.features).toEqual(['chat_support']);
    expectRefused(await call('/keys', { ...bearer(keys.narrow), 'x-llm-feature': 'bulk_processing' }), 403);
  });

  it('feature authorisation from the header and from the route config (seed plans)', async () => {
    expectRefused(await call('/keys', { ...bearer(keys.small), 'x-llm-feature': 'code_review' }), 403);
    expect((await call('/keys', { ...bearer(keys.small), 'x-llm-feature': 'chat_support' })).status).toBe(200);
    // The route serves bulk_processing: pro (acme) lacks it whatever the header says.
    const r = await call('/bulk', { ...bearer(keys.acme), 'x-llm-feature': 'chat_support' });
    expectRefused(r, 403);
    expect(r.body.error.type).toBe('permission_error');
  });
});

describe('Kong consumers (authenticated by bundled key-auth)', () => {
  it('a consumer mapped to a tenant → identity; upstream sees the provider credential, not the Kong key', async () => {
    const { reply: r, calls } = await accessCalls('consumer', () => call('/consumer', { apikey: KONG_KEY }));
    expect(r.status).toBe(200);
    expect(r.identity).toMatchObject({ tenant_id: 'acme', method: 'consumer' });
    const up = lastUpstream()!;
    expect(up.headers.apikey).toBeUndefined();
    expect(up.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    expect(calls).toEqual(['kong.request.get_headers', 'kong.client.get_consumer', 'kong.ctx.shared.set', 'kong.service.request.set_headers']);
  });

  it('a consumer tagged llg-tenant:<id> maps too; an unmapped consumer → 401', async () => {
    const tagged = await call('/consumer', { apikey: 'tagged-key' });
    expect(tagged.identity).toMatchObject({ tenant_id: 'small' });
    expectRefused(await call('/consumer', { apikey: 'stranger-key' }), 401);
  });
});

describe('failed-auth throttling', () => {
  it('4 PDK calls with throttling; N failures → 429 with Retry-After, even for a valid key', async () => {
    const { reply, calls } = await accessCalls('throttle', () => call('/throttle', bearer(keys.thr)));
    expect(reply.status).toBe(200);
    expect(calls).toEqual([
      'kong.request.get_headers',
      'kong.client.get_forwarded_ip',
      'kong.ctx.shared.set',
      'kong.service.request.set_headers',
    ]);
    for (let i = 0; i < 3; i++) expectRefused(await call('/throttle', bearer(generateApiKey())), 401);
    const blocked = await call('/throttle', bearer(generateApiKey()));
    expectRefused(blocked, 429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(50);
    expectRefused(await call('/throttle', bearer(keys.thr)), 429);
    // The block is in Redis too (shared by every node).
    expect(await redis.pttl(`${throttlePrefix}{authfail:127.0.0.1}:block`)).toBeGreaterThan(50_000);
    // Other routes (another prefix) are not affected.
    expect((await call('/keys', bearer(keys.acme))).status).toBe(200);
  });
});

describe('Redis down (fault proxy)', () => {
  it('a cached key is allowed until the cache TTL; an uncached key → 503; never allowed blindly', async () => {
    expect((await call('/down', bearer(keys.down1))).status).toBe(200);
    const cachedAt = Date.now();
    proxy.setMode('reset');
    try {
      expect((await call('/down', bearer(keys.down1))).status).toBe(200);
      const uncached = await call('/down', bearer(keys.down2));
      expectRefused(uncached, 503);
      expect(uncached.headers.get('retry-after')).toBeTruthy();
      await new Promise((r) => setTimeout(r, Math.max(0, cachedAt + 3100 - Date.now())));
      expectRefused(await call('/down', bearer(keys.down1)), 503);
    } finally {
      proxy.setMode('pass');
    }
  });
});

describe('fail closed', () => {
  it('a broken configuration refuses with 503 and never reaches the upstream', async () => {
    const before = llm.requests.length;
    expectRefused(await call('/broken', bearer(keys.acme)), 503);
    expect(llm.requests.length).toBe(before);
  });
});

describe('logs and events', () => {
  it('one auth event per request in <prefix>events and one log line; canary secrets appear nowhere', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const entries = await redis.xrange(`${prefix}events`, '-', '+');
    const events = entries.map(([, fields]) => streamFieldsToEvent(fields));
    expect(events.length).toBeGreaterThan(5);
    expect(events.every((e) => e.type === 'auth')).toBe(true);
    expect(events.find((e) => e.client_request_id === 'req-e2e-1')).toMatchObject({ outcome: 'allowed', method: 'api_key', tenant_id: 'acme', key_id: 'k_acme' });
    expect(events.some((e) => e.outcome === 'denied' && e.reason === 'unknown_key' && e.status === '401')).toBe(true);
    expect(events.some((e) => e.outcome === 'denied' && e.reason === 'revoked_key')).toBe(true);
    const lines = host.logs.filter((l) => l.plugin === 'llm-auth').map((l) => l.message);
    expect(lines.some((l) => l.includes('request_id=req-e2e-1') && l.includes('outcome=allowed'))).toBe(true);

    const everything = JSON.stringify(host.logs) + JSON.stringify(entries) + host.serverOutput('llm-auth').join('\n');
    const secrets = [PROVIDER_SECRET, KONG_KEY, ...Object.values(keys).map((k) => k.key), unknownKey.key];
    for (const s of secrets) expect(everything).not.toContain(s);
  });
});

describe('llm-auth plugin server dead (runs last: kills the server)', () => {
  it('Kong would let the request through; the post-function sentinel answers 503 instead', async () => {
    expect((await call('/guarded', bearer(keys.acme))).status).toBe(200);
    await host.killPluginServer('llm-auth');
    const before = llm.requests.length;
    const r = await call('/guarded', bearer(keys.acme));
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('gateway_unavailable');
    expect((await call('/guarded')).status).toBe(503);
    expect(llm.requests.length).toBe(before);
  });
});
