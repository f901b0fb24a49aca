/**
 * The decision without the PDK: method gating and order, lazy PDK reads, tenant locking per
 * token issuer, claim mappings (tier, scopes, end user), request ids.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../core/keys';
import type { KongConsumer } from '../core/pdk';
import { Authenticator, tenantAllowed, type AuthRequest } from './authenticate';
import { authConfig } from './testing/fixtures';

const SECRET = 'an-hs256-secret-of-sufficient-length!';
const key = generateApiKey();

function request(headers: Record<string, string>, o: { consumer?: KongConsumer; chain?: string } = {}) {
  const reads: string[] = [];
  const req: AuthRequest = {
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    now: Date.now(),
    clientIp: async () => (reads.push('clientIp'), '198.51.100.1'),
    peerIp: async () => (reads.push('peerIp'), '198.51.100.1'),
    tlsChain: async () => (reads.push('tlsChain'), o.chain),
    consumer: async () => (reads.push('consumer'), o.consumer),
  };
  return { req, reads };
}

function hsToken(claims: Record<string, unknown>, iss = 'https://idp.acme.test') {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(iss).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
}

function issuer(over: Record<string, unknown> = {}) {
  return { issuer: 'https://idp.acme.test', algorithms: ['HS256'], hs_secret: SECRET, ...over };
}

describe('Authenticator', () => {
  it('only enabled methods count; order: header credential, then mTLS, then consumer; lazy PDK reads', async () => {
    const a = new Authenticator(authConfig({ methods: ['api_key', 'mtls', 'consumer'], keys: [{ hash: key.hash, tenant: 'acme' }] }));
    const withKey = request({ authorization: `Bearer ${key.key}` }, { consumer: { id: 'c1', username: 'acme-consumer' } });
    expect(await a.authenticate(withKey.req)).toMatchObject({ ok: true, identity: { method: 'static_key', tenant_id: 'acme' } });
    expect(withKey.reads).toEqual([]);

    const consumerOnly = request({}, { consumer: { id: 'c1', username: 'acme-consumer' } });
    expect(await a.authenticate(consumerOnly.req)).toMatchObject({ ok: true, identity: { method: 'consumer', tenant_id: 'acme' } });
    expect(consumerOnly.reads).toEqual(['tlsChain', 'consumer']);

    // A presented credential that fails never falls through to the consumer.
    const bad = request({ authorization: `Bearer ${generateApiKey().key}` }, { consumer: { id: 'c1', username: 'acme-consumer' } });
    expect(await a.authenticate(bad.req)).toMatchObject({ ok: false, kind: 'unauthenticated', reason: 'unknown_key' });
    expect(bad.reads).toEqual([]);

    const jwtOnly = new Authenticator(authConfig({ methods: ['jwt'], jwt_issuers: [issuer()] }));
    expect(await jwtOnly.authenticate(request({ authorization: `Bearer ${key.key}` }).req)).toMatchObject({ ok: false, reason: 'missing_credentials', missing: true });
  });

  it('throttling reads the client IP only for guessable credentials', async () => {
    const a = new Authenticator(authConfig({ methods: ['api_key', 'consumer'], keys: [{ hash: key.hash, tenant: 'acme' }], throttle: { enabled: true } }));
    const k = request({ authorization: `Bearer ${key.key}` });
    await a.authenticate(k.req);
    expect(k.reads).toEqual(['clientIp']);
    const c = request({}, { consumer: { id: 'c1', username: 'acme-consumer' } });
    await a.authenticate(c.req);
    expect(c.reads).toEqual(['consumer']);
  });

  it("an issuer with a default tenant is locked to it; allowed_tenants widens explicitly", async () => {
    const locked = new Authenticator(authConfig({ methods: ['jwt'], jwt_issuers: [issuer({ default_tenant: 'acme' })] }));
    expect(await locked.authenticate(request({ authorization: `Bearer ${await hsToken({})}` }).req)).toMatchObject({ ok: true, identity: { tenant_id: 'acme' } });
    expect(await locked.authenticate(request({ authorization: `Bearer ${await hsToken({ tenant_id: 'big' })}` }).req)).toMatchObject({ ok: false, reason: 'tenant_not_allowed' });

    const listed = new Authenticator(authConfig({ methods: ['jwt'], jwt_issuers: [issuer({ allowed_tenants: ['acme', 'small'] })] }));
    expect(await listed.authenticate(request({ authorization: `Bearer ${await hsToken({ tenant_id: 'small' })}` }).req)).toMatchObject({ ok: true, identity: { tenant_id: 'small' } });
    expect(await listed.authenticate(request({ authorization: `Bearer ${await hsToken({ tenant_id: 'big' })}` }).req)).toMatchObject({ ok: false, reason: 'tenant_not_allowed' });
    expect(await listed.authenticate(request({ authorization: `Bearer ${await hsToken({})}` }).req)).toMatchObject({ ok: false, reason: 'no_tenant_claim' });

    expect(tenantAllowed('x', undefined, [])).toBe(true);
    expect(tenantAllowed('x', 'y', [])).toBe(false);
  });

  it('one IdP for several tenants: entries sharing an iss, each locked to its tenant', async () => {
    const a = new Authenticator(authConfig({ methods: ['jwt'], jwt_issuers: [issuer({ default_tenant: 'acme' }), issuer({ default_tenant: 'small' })] }));
    expect(await a.authenticate(request({ authorization: `Bearer ${await hsToken({ tenant_id: 'small' })}` }).req)).toMatchObject({ ok: true, identity: { tenant_id: 'small' } });
    expect(await a.authenticate(request({ authorization: `Bearer ${await hsToken({ tenant_id: 'acme' })}` }).req)).toMatchObject({ ok: true, identity: { tenant_id: 'acme' } });
    expect(await a.authenticate(request({ authorization: `Bearer ${await hsToken({ tenant_id: 'big' })}` }).req)).toMatchObject({ ok: false, reason: 'tenant_not_allowed' });
    expect(await a.authenticate(request({ authorization: `Bearer ${await hsToken({}, 'https://other.test')}` }).req)).toMatchObject({ ok: false, reason: 'unknown_issuer' });
  });

  it('claim mappings: tier (configured tiers only), scopes narrowing, end user as HMAC, oauth label', async () => {
    const a = new Authenticator(
      authConfig({
        methods: ['jwt'],
        end_user_hmac_key: 'k'.repeat(32),
        jwt_issuers: [issuer({ oauth: true, claims: { tenant: 'org', tier: 'plan', scopes: 'scp', end_user: 'email' } })],
      }),
    );
    const t = await hsToken({ org: 'small', plan: 'enterprise', scp: ['model:gpt-4o', 'feature:bulk_processing', 'offline_access'], email: 'bob@example.com' });
    const r = await a.authenticate(request({ authorization: `Bearer ${t}`, 'x-llm-feature': 'bulk_processing' }).req);
    expect(r).toMatchObject({ ok: true, identity: { tenant_id: 'small', tier: 'enterprise', method: 'oauth_jwt', feature: 'bulk_processing', scopes: { models: ['gpt-4o'], features: ['bulk_processing'] } } });
    expect(JSON.stringify(r)).not.toContain('bob@');
    const unknownTier = await a.authenticate(request({ authorization: `Bearer ${await hsToken({ org: 'small', plan: 'platinum' })}` }).req);
    expect(unknownTier).toMatchObject({ ok: true, identity: { tier: 'basic' } });
  });

  it('request id: always a fresh UUIDv7 (reservations key on it); a plain client id is kept beside it', async () => {
    const a = new Authenticator(authConfig({ keys: [{ hash: key.hash, tenant: 'acme' }] }));
    const kept = await a.authenticate(request({ authorization: `Bearer ${key.key}`, 'x-request-id': 'abc-123' }).req);
    const again = await a.authenticate(request({ authorization: `Bearer ${key.key}`, 'x-request-id': 'abc-123' }).req);
    expect(kept.ok && kept.identity.client_request_id).toBe('abc-123');
    expect(kept.ok && kept.identity.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(again.ok && again.identity.request_id).not.toBe(kept.ok && kept.identity.request_id);
    const replaced = await a.authenticate(request({ authorization: `Bearer ${key.key}`, 'x-request-id': 'a b\nc' }).req);
    expect(replaced.ok && replaced.identity.client_request_id).toBeUndefined();
    expect(replaced.ok && replaced.identity.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
  });

  it('expired static keys are refused like unknown ones (reason differs only in the event)', async () => {
    const a = new Authenticator(authConfig({ keys: [{ hash: key.hash, tenant: 'acme', expires_at: Date.now() - 1 }] }));
    expect(await a.authenticate(request({ authorization: `Bearer ${key.key}` }).req)).toMatchObject({ ok: false, kind: 'unauthenticated', reason: 'expired_key' });
  });
});
