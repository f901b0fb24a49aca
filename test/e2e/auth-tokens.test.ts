/**
 * llm-auth through the Kong-protocol host (real kong-js-pluginserver): JWT (local JWKS server),
 * OAuth 2.0 opaque tokens (local RFC 7662 server), mTLS (the host's TLS listener with client
 * certificates made by openssl, and the forwarded-certificate header from trusted proxies).
 * Assumes `npm run build` (or `node scripts/build.mjs llm-auth`) ran.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKongHost, type KongHost } from '../harness/kong-host';
import { startMockLlm, type MockLlm } from '../harness/mock-llm';
import { deleteByPrefix, redisUrl, testPrefix } from '../harness/redis';
import { decodeCtx } from '../../plugins/core/context';
import { streamFieldsToEvent } from '../../plugins/core/events';
import { TENANTS, TIERS } from '../../plugins/llm-auth/testing/fixtures';
import { startJwksServer, type JwksServer } from '../../plugins/llm-auth/testing/jwks-server';
import { makeTestPki, type TestPki } from '../../plugins/llm-auth/testing/certs';

const prefix = testPrefix('e2e-auth-tokens');
const redis = new Redis(redisUrl());
const PROVIDER_SECRET = 'sk-provider-CANARY-2b9f';
const INTROSPECT_SECRET = 'introspect-secret-CANARY-77';
const HMAC_KEY = 'end-user-hmac-key-CANARY-0123456789';
const OPAQUE = 'opaque-token-CANARY-5c1d';
const ISS = 'https://idp.example.test';
const AUD = 'llm-gateway';

let llm: MockLlm;
let host: KongHost;
let jwks: JwksServer;
let pki: TestPki;
let introspection: Server;
let introspectionUrl = '';
const introspected: string[] = [];
let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let rsaJwk: JWK;
const tokensSeen: string[] = [];

const sec = () => Math.floor(Date.now() / 1000);

async function sign(claims: Record<string, unknown> = {}, o: { kid?: string; key?: CryptoKey; iss?: string; aud?: string; exp?: number; nbf?: number } = {}) {
  let j = new SignJWT({ tenant_id: 'acme', sub: 'alice@example.com', scope: 'openid feature:chat_support feature:code_review', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? 'k1' })
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? AUD)
    .setIssuedAt()
    .setExpirationTime(o.exp ?? sec() + 300);
  if (o.nbf) j = j.setNotBefore(o.nbf);
  const t = await j.sign(o.key ?? rsa.privateKey);
  tokensSeen.push(t);
  return t;
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');

beforeAll(async () => {
  pki = makeTestPki();
  llm = await startMockLlm();
  rsa = await generateKeyPair('RS256', { extractable: true });
  rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256' };
  jwks = await startJwksServer([rsaJwk]);
  introspection = createServer((req, res) => {
    let b = '';
    req.on('data', (d) => (b += d)).on('end', () => {
      introspected.push(req.headers.authorization ?? '');
      const token = new URLSearchParams(b).get('token');
      const body = token === OPAQUE ? { active: true, tenant_id: 'big', scope: 'feature:bulk_processing', sub: 'svc-batch', exp: sec() + 600 } : { active: false };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => introspection.listen(0, '127.0.0.1', () => r()));
  introspectionUrl = `http://127.0.0.1:${(introspection.address() as AddressInfo).port}/introspect`;

  const common = {
    tiers: TIERS,
    tenants: TENANTS,
    upstream_auth: { header: 'authorization', scheme: 'Bearer', value: '{vault://env/LLG_TEST_PROVIDER_KEY}' },
    throttle: { enabled: false },
    redis: { host: '127.0.0.1', port: 6379, command_timeout_ms: 2000 },
    redis_key_prefix: prefix,
    end_user_hmac_key: '{vault://env/LLG_TEST_HMAC}',
  };
  const route = (name: string, auth: Record<string, unknown>) => ({
    name,
    paths: [`/${name}`],
    strip_path: true,
    plugins: [{ name: 'llm-auth', config: { ...common, ...auth } }, { name: 'fixture-echo-ctx', config: { keys: ['llm.identity'] } }],
  });
  const issuer = { issuer: ISS, audiences: [AUD], algorithms: ['RS256'], jwks_uri: jwks.url, leeway_seconds: 5, jwks_cooldown_seconds: 30 };
  const mtls = {
    ca_certificates: [pki.rootCa],
    identities: [{ subject: 'CN=svc-a', tenant: 'acme' }, { subject: 'CN=svc-b', tenant: 'small' }],
  };
  host = await startKongHost({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'llm',
          url: llm.url,
          routes: [
            route('jwt', { methods: ['jwt'], jwt_issuers: [issuer] }),
            route('oauth', { methods: ['oauth_introspection'], introspection: { endpoint: introspectionUrl, client_id: 'gateway', client_secret: '{vault://env/LLG_TEST_INTROSPECT}', timeout_ms: 3000 } }),
            route('oauthdown', { methods: ['oauth_introspection'], introspection: { endpoint: 'http://127.0.0.1:1/introspect', client_id: 'gateway', client_secret: 'x', timeout_ms: 300 } }),
            route('mtls', { methods: ['mtls'], mtls }),
            route('fwd', { methods: ['mtls'], mtls: { ...mtls, trusted_proxies: ['127.0.0.1'], forwarded_cert_header: 'x-client-cert' } }),
            route('fwduntrusted', { methods: ['mtls'], mtls: { ...mtls, trusted_proxies: ['10.0.0.0/8'], forwarded_cert_header: 'x-client-cert' } }),
          ],
        },
      ],
    },
    env: { ...process.env, LLG_TEST_PROVIDER_KEY: PROVIDER_SECRET, LLG_TEST_INTROSPECT: INTROSPECT_SECRET, LLG_TEST_HMAC: HMAC_KEY },
    tls: { cert: pki.server, key: pki.serverKey, ca: pki.rootCa, requestClientCert: true },
  });
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
  await jwks?.stop();
  introspection?.closeAllConnections();
  await new Promise((r) => introspection?.close(r));
  pki?.cleanup();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  identity: ReturnType<typeof decodeCtx<'llm.identity'>>;
}

const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

function parse(status: number, headers: Record<string, string | string[] | undefined>, text: string): Reply {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  const raw = headers['x-ctx-llm-identity'];
  return { status, headers, body, identity: decodeCtx('llm.identity', typeof raw === 'string' ? raw : undefined) };
}

async function call(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(`${host.proxyUrl}${path}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY });
  return parse(r.status, Object.fromEntries(r.headers), await r.text());
}

/** A request over the host's TLS listener, optionally with a client certificate (chain). */
function tlsCall(path: string, client?: { cert: string; key: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${host.tlsUrl}${path}/v1/chat/completions`);
    const req = httpsRequest(
      { hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', ca: pki.rootCa, ...(client ?? {}), agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d)).on('end', () => resolve(parse(res.statusCode ?? 0, res.headers, text)));
      },
    );
    req.on('error', reject);
    req.end(BODY);
  });
}

function expectRefused(r: Reply, status: number) {
  expect(r.status).toBe(status);
  expect(r.identity).toBeUndefined();
  expect(r.body.error.code).toEqual(expect.any(String));
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('JWT', () => {
  it('valid → identity from claims (tenant, scopes narrowed, end user as HMAC); upstream gets the provider credential', async () => {
    const token = await sign();
    const r = await call('/jwt', { ...bearer(token), 'x-llm-feature': 'code_review' });
    expect(r.status).toBe(200);
    expect(r.identity).toMatchObject({ tenant_id: 'acme', method: 'jwt', feature: 'code_review', scopes: { features: ['chat_support', 'code_review'] } });
    expect(r.identity?.end_user_hash).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(r.identity)).not.toContain('alice');
    const up = llm.requests.at(-1)!;
    expect(up.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    expect(JSON.stringify(up.headers)).not.toContain(token);
  });

  it('expired, not yet valid, wrong aud, wrong iss → 401', async () => {
    expectRefused(await call('/jwt', bearer(await sign({}, { exp: sec() - 60 }))), 401);
    expectRefused(await call('/jwt', bearer(await sign({}, { nbf: sec() + 600, exp: sec() + 900 }))), 401);
    expectRefused(await call('/jwt', bearer(await sign({}, { aud: 'another-api' }))), 401);
    expectRefused(await call('/jwt', bearer(await sign({}, { iss: 'https://evil.example' }))), 401);
  });

  it('bad signature, alg none, HS256 signed with the RS public key, unknown kid → 401', async () => {
    const good = await sign();
    const [h, , s] = good.split('.');
    const forgedPayload = b64url(JSON.stringify({ tenant_id: 'big', iss: ISS, aud: AUD, exp: sec() + 300 }));
    expectRefused(await call('/jwt', bearer(`${h}.${forgedPayload}.${s}`)), 401);
    const none = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${forgedPayload}.`;
    expectRefused(await call('/jwt', bearer(none)), 401);
    const hsHeader = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k1' }));
    const hsSig = createHmac('sha256', JSON.stringify(rsaJwk)).update(`${hsHeader}.${forgedPayload}`).digest('base64url');
    expectRefused(await call('/jwt', bearer(`${hsHeader}.${forgedPayload}.${hsSig}`)), 401);
    const stranger = await generateKeyPair('RS256');
    const fetches = jwks.fetches;
    for (let i = 0; i < 5; i++) expectRefused(await call('/jwt', bearer(await sign({}, { kid: `unknown-${i}`, key: stranger.privateKey }))), 401);
    // Unknown kids inside the cooldown cause no JWKS fetch storm.
    expect(jwks.fetches - fetches).toBeLessThanOrEqual(1);
  });

  it('a token for an unknown tenant → 401; for a disabled tenant → 403', async () => {
    expectRefused(await call('/jwt', bearer(await sign({ tenant_id: 'nobody' }))), 401);
    expectRefused(await call('/jwt', bearer(await sign({ tenant_id: 'gone' }))), 403);
  });
});

describe('OAuth 2.0 introspection', () => {
  it('active opaque token → identity (client credentials sent); inactive → 401', async () => {
    const r = await call('/oauth', { ...bearer(OPAQUE), 'x-llm-feature': 'bulk_processing' });
    expect(r.status).toBe(200);
    expect(r.identity).toMatchObject({ tenant_id: 'big', tier: 'enterprise', method: 'oauth_introspection', feature: 'bulk_processing' });
    expect(introspected.at(-1)).toBe(`Basic ${Buffer.from(`gateway:${INTROSPECT_SECRET}`).toString('base64')}`);
    expect(llm.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    expectRefused(await call('/oauth', bearer('opaque-unknown-token')), 401);
  });

  it('introspection endpoint down → 503, never allowed', async () => {
    const before = llm.requests.length;
    const r = await call('/oauthdown', bearer(OPAQUE));
    expectRefused(r, 503);
    expect(llm.requests.length).toBe(before);
  });
});

describe('mTLS (host TLS listener)', () => {
  it('leaf + intermediate chaining to the configured CA → identity by subject', async () => {
    const r = await tlsCall('/mtls', { cert: pki.leafChain, key: pki.leafKey });
    expect(r.status).toBe(200);
    expect(r.identity).toMatchObject({ tenant_id: 'acme', method: 'mtls' });
    expect(llm.requests.at(-1)!.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);
    const b = await tlsCall('/mtls', { cert: pki.leafB, key: pki.leafBKey });
    expect(b.identity).toMatchObject({ tenant_id: 'small' });
  });

  it('wrong CA, expired, not yet valid, server-only certificate, no certificate → 401', async () => {
    expectRefused(await tlsCall('/mtls', { cert: pki.wrongCa, key: pki.wrongCaKey }), 401);
    expectRefused(await tlsCall('/mtls', { cert: pki.expired + pki.intermediateCa, key: pki.expiredKey }), 401);
    expectRefused(await tlsCall('/mtls', { cert: pki.notYetValid + pki.intermediateCa, key: pki.notYetValidKey }), 401);
    expectRefused(await tlsCall('/mtls', { cert: pki.serverUsage + pki.intermediateCa, key: pki.serverUsageKey }), 401);
    expectRefused(await tlsCall('/mtls'), 401);
  });

  it('forwarded certificate header: accepted from a trusted proxy, refused from anyone else', async () => {
    const header = { 'x-client-cert': encodeURIComponent(pki.leafChain) };
    const ok = await call('/fwd', header);
    expect(ok.status).toBe(200);
    expect(ok.identity).toMatchObject({ tenant_id: 'acme', method: 'mtls' });
    expect(llm.requests.at(-1)!.headers['x-client-cert'] ?? '').toBe('');
    expectRefused(await call('/fwduntrusted', header), 401);
    expectRefused(await call('/fwd', { 'x-client-cert': encodeURIComponent(pki.wrongCa) }), 401);
  });
});

describe('events and logs', () => {
  it('auth events carry method/outcome/reason and the end-user hash; no token, secret or claim value anywhere', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const entries = await redis.xrange(`${prefix}events`, '-', '+');
    const events = entries.map(([, f]) => streamFieldsToEvent(f));
    expect(events.some((e) => e.method === 'jwt' && e.outcome === 'allowed' && /^[0-9a-f]{32}$/.test(e.end_user_hash ?? ''))).toBe(true);
    expect(events.some((e) => e.method === 'jwt' && e.outcome === 'denied' && e.reason === 'expired')).toBe(true);
    expect(events.some((e) => e.method === 'oauth_introspection' && e.outcome === 'denied' && e.status === '503')).toBe(true);
    const reasons = new Set(events.filter((e) => e.outcome === 'denied').map((e) => `${e.method}:${e.reason}:${e.status}`));
    for (const r of [
      'jwt:expired:401',
      'jwt:not_yet_valid:401',
      'jwt:bad_audience:401',
      'jwt:unknown_issuer:401',
      'jwt:bad_signature:401',
      'jwt:algorithm_not_allowed:401',
      'jwt:unknown_kid:401',
      'jwt:unknown_tenant:401',
      'jwt:tenant_disabled:403',
      'oauth_introspection:inactive_token:401',
      'oauth_introspection:introspection_unavailable:503',
      'mtls:cert_untrusted:401',
      'mtls:cert_expired:401',
      'mtls:cert_not_yet_valid:401',
      'mtls:cert_not_client_cert:401',
      'mtls:untrusted_forwarder:401',
      'none:missing_credentials:401',
    ]) {
      expect(reasons, r).toContain(r);
    }
    const everything = JSON.stringify(host.logs) + JSON.stringify(entries) + host.serverOutput('llm-auth').join('\n');
    for (const s of [PROVIDER_SECRET, INTROSPECT_SECRET, HMAC_KEY, OPAQUE, 'alice@example.com', ...tokensSeen]) expect(everything).not.toContain(s);
  });
});
