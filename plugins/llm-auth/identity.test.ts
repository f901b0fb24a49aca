import { describe, expect, it } from 'vitest';
import { authorizeFeature, buildIdentity, buildTenantIndex, lookupTenant, narrow, scopesFromClaim } from './identity';
import { extractCredential, usableRequestId } from './credentials';
import { TENANTS, TIERS } from './testing/fixtures';
import { decodeCtx, encodeCtx } from '../core/context';

const index = buildTenantIndex(TENANTS as never, TIERS as never);

describe('tenant lookup and identity', () => {
  it('resolves tier limits merged with tenant overrides, budgets in nano-dollars', () => {
    const t = lookupTenant(index, 'big');
    expect(t.ok && t.tenant.limits.requests_per_minute).toBe(9999);
    const a = lookupTenant(index, 'acme');
    expect(a.ok && a.tenant.budgets.tenant_daily_nano).toBe(100_000_000_000);
    expect(a.ok && a.tenant.timezone).toBe('Europe/Berlin');
  });

  it('refuses unknown and disabled tenants distinctly', () => {
    expect(lookupTenant(index, 'nope')).toEqual({ ok: false, reason: 'unknown_tenant' });
    expect(lookupTenant(index, 'gone')).toEqual({ ok: false, reason: 'tenant_disabled' });
  });

  it('a tier claim switches to a configured tier only', () => {
    const t = lookupTenant(index, 'small', 'enterprise');
    expect(t.ok && t.tenant.tier).toBe('enterprise');
    const u = lookupTenant(index, 'small', 'platinum');
    expect(u.ok && u.tenant.tier).toBe('basic');
  });

  it('key scopes narrow the tenant scopes and never widen them', () => {
    expect(narrow(['gpt-4o*'], ['gpt-4o-mini', 'claude-3'])).toEqual(['gpt-4o-mini']);
    expect(narrow(['gpt-4o-mini'], ['gpt-*'])).toEqual([]);
    expect(narrow(['*'], ['gpt-*'])).toEqual(['gpt-*']);
    expect(narrow(['a'], undefined)).toEqual(['a']);
  });

  it('reads model:/feature: scopes from a claim string or array', () => {
    expect(scopesFromClaim('openid model:gpt-4o feature:code_review')).toEqual({ models: ['gpt-4o'], features: ['code_review'] });
    expect(scopesFromClaim(['feature:chat_support'])).toEqual({ models: undefined, features: ['chat_support'] });
    expect(scopesFromClaim(42)).toEqual({ models: undefined, features: undefined });
  });

  it('builds an identity that survives the ctx contract round trip; end user only as HMAC', () => {
    const t = lookupTenant(index, 'acme');
    if (!t.ok) throw new Error('tenant');
    const id = buildIdentity({ requestId: 'r1', method: 'jwt', tenant: t.tenant, endUserId: 'alice@example.com', endUserHmacKey: 'k'.repeat(32), scopes: { features: ['code_review', 'bulk_processing'] } });
    const decoded = decodeCtx('llm.identity', encodeCtx('llm.identity', id));
    expect(decoded?.tenant_id).toBe('acme');
    expect(decoded?.scopes.features).toEqual(['code_review']);
    expect(decoded?.end_user_hash).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(decoded)).not.toContain('alice');
    const noKey = buildIdentity({ requestId: 'r1', method: 'jwt', tenant: t.tenant, endUserId: 'alice' });
    expect(noKey.end_user_hash).toBeUndefined();
  });

  it('feature authorisation: seed plans, route feature wins over the header', () => {
    const basic = ['chat_support'];
    expect(authorizeFeature(basic, undefined, 'chat_support', false)).toEqual({ ok: true, feature: 'chat_support' });
    expect(authorizeFeature(basic, undefined, 'code_review', false)).toEqual({ ok: false, reason: 'feature_not_allowed' });
    expect(authorizeFeature(basic, 'bulk_processing', 'chat_support', false)).toEqual({ ok: false, reason: 'feature_not_allowed' });
    expect(authorizeFeature(basic, undefined, undefined, false)).toEqual({ ok: true });
    expect(authorizeFeature(basic, undefined, undefined, true)).toEqual({ ok: false, reason: 'feature_required' });
  });
});

describe('credential extraction', () => {
  const opts = { apiKey: true, token: true, apiKeyHeader: 'authorization' };
  it('tells API keys from bearer tokens', () => {
    expect(extractCredential({ authorization: ['Bearer lg_live_abc'] }, opts)).toMatchObject({ kind: 'api_key', key: 'lg_live_abc' });
    expect(extractCredential({ authorization: ['bearer eyJ.a.b'] }, opts)).toMatchObject({ kind: 'token', token: 'eyJ.a.b' });
    expect(extractCredential({ authorization: ['Basic Zm9vOmJhcg=='] }, opts)).toEqual({ kind: 'none' });
    expect(extractCredential({}, opts)).toEqual({ kind: 'none' });
  });
  it('a custom API-key header; tokens ignored when no token method is enabled', () => {
    const o = { apiKey: true, token: false, apiKeyHeader: 'X-Api-Key' };
    expect(extractCredential({ 'x-api-key': ['lg_live_k'] }, o)).toMatchObject({ kind: 'api_key', key: 'lg_live_k', header: 'x-api-key' });
    expect(extractCredential({ authorization: 'Bearer eyJ.a.b' }, o)).toEqual({ kind: 'none' });
  });
  it('keeps only plain short request ids', () => {
    expect(usableRequestId('abc-123')).toBe('abc-123');
    expect(usableRequestId('a b')).toBeUndefined();
    expect(usableRequestId('x'.repeat(200))).toBeUndefined();
  });
});
