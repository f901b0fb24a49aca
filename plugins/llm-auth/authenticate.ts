/**
 * The decision, without the PDK: request headers (+ lazily, only when needed, the client IP, the
 * TLS client chain, the Kong consumer) → an identity or a refusal. The handler passes the PDK
 * reads as callbacks so each costs a round trip only when this code asks for it.
 *
 * Order: API key / bearer token in headers → mTLS (forwarded header from a trusted proxy, else
 * the TLS chain Kong terminated) → Kong consumer. Only enabled methods count.
 */
import type { X509Certificate } from 'node:crypto';
import type { BlockList } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import type { AuthMethod, LlmIdentity } from '../core/context';
import { hashApiKey, isWellFormedKey, keyIsUsable, type KeyRecord } from '../core/keys';
import { keyDisplayPrefix } from '../core/hash';
import type { KongConsumer, MultiMap } from '../core/pdk';
import { headerValue } from '../core/pdk';
import type { RedisSettings } from '../core/redis/client';
import { redisConfigured, toRedisSettings } from '../core/redis/schema';
import { extractCredential, isJwtShaped, usableRequestId } from './credentials';
import { authorizeFeature, buildIdentity, buildTenantIndex, lookupTenant, scopesFromClaim, type TenantIndex } from './identity';
import { introspect } from './introspection';
import { findIssuers, prepareIssuer, stringClaim, verifyWithIssuer, type JwtOutcome, type PreparedIssuer } from './jwt';
import { KeyStore } from './keystore';
import { isTrustedProxy, parseCaBundle, parsePemChain, tenantForCertificate, trustedProxyList, verifyChain } from './mtls';
import type { AuthConfig, ClaimsConfig } from './schema';
import { Throttle } from './throttle';

export type RefusalKind = 'unauthenticated' | 'forbidden' | 'rate_limited' | 'unavailable';

export type AuthResult =
  | { ok: true; identity: Omit<LlmIdentity, 'v'>; credentialHeader?: string }
  | { ok: false; kind: RefusalKind; reason: string; method: AuthMethod | 'none'; requestId: string; keyPrefix?: string; retryAfterMs?: number; missing?: boolean };

export interface AuthRequest {
  headers: MultiMap | undefined;
  now: number;
  /** The client address after Kong's trusted_ips / real_ip handling (kong.client.get_forwarded_ip): throttling. */
  clientIp(): Promise<string | undefined>;
  /** The address directly connected to Kong (kong.client.get_ip): trusted-proxy checks. */
  peerIp(): Promise<string | undefined>;
  tlsChain(): Promise<string | undefined>;
  consumer(): Promise<KongConsumer | undefined>;
}

/**
 * May a token source name this tenant? An explicit list wins; without one, an issuer with a
 * default tenant is locked to it (a tenant's own IdP cannot speak for another tenant), and an
 * issuer without one is platform-wide.
 */
export function tenantAllowed(tenant: string, defaultTenant: string | undefined, allowed: string[]): boolean {
  if (allowed.length) return allowed.includes(tenant);
  return defaultTenant === undefined || tenant === defaultTenant;
}

type ClaimSource = { claims: ClaimsConfig; default_tenant?: string; allowed_tenants?: string[] };

/** The tenant a token names (or its source's default), if that source may name it. */
export function tenantFromClaims(claims: Record<string, unknown>, source: ClaimSource): { ok: true; tenant: string } | { ok: false; reason: 'no_tenant_claim' | 'tenant_not_allowed' } {
  const tenant = stringClaim(claims, source.claims.tenant) ?? source.default_tenant;
  if (!tenant) return { ok: false, reason: 'no_tenant_claim' };
  if (!tenantAllowed(tenant, source.default_tenant, source.allowed_tenants ?? [])) return { ok: false, reason: 'tenant_not_allowed' };
  return { ok: true, tenant };
}

export function redisSettingsOf(cfg: AuthConfig): RedisSettings | undefined {
  return redisConfigured(cfg.redis) ? toRedisSettings(cfg.redis) : undefined;
}

/** Everything prepared once per plugin instance (throws on a broken config: fail closed). */
export class Authenticator {
  readonly tenants: TenantIndex;
  readonly methods: Set<string>;
  readonly redis?: RedisSettings;
  readonly keyStore?: KeyStore;
  readonly staticKeys = new Map<string, KeyRecord>();
  readonly issuers: PreparedIssuer[];
  readonly cas: X509Certificate[];
  readonly proxies: BlockList;
  readonly throttle?: Throttle;

  constructor(readonly cfg: AuthConfig) {
    this.methods = new Set(cfg.methods);
    this.tenants = buildTenantIndex(cfg.tenants ?? [], cfg.tiers ?? []);
    this.redis = redisSettingsOf(cfg);
    if (this.redis && this.methods.has('api_key')) {
      this.keyStore = new KeyStore(this.redis, cfg.redis_key_prefix, {
        maxEntries: cfg.cache.max_entries,
        ttlMs: cfg.cache.ttl_seconds * 1000,
        negativeTtlMs: cfg.cache.negative_ttl_seconds * 1000,
      });
    }
    for (const k of cfg.keys ?? []) {
      const hash = k.hash.toLowerCase();
      const keyId = k.key_id ?? hash.slice(0, 16);
      this.staticKeys.set(hash, {
        v: 1,
        key_id: keyId,
        tenant_id: k.tenant,
        lineage_id: k.lineage_id ?? keyId,
        prefix: k.prefix ?? '',
        scopes: k.models || k.features ? { models: k.models, features: k.features } : undefined,
        expires_at: k.expires_at ?? null,
        revoked: false,
      });
    }
    this.issuers = this.methods.has('jwt') ? (cfg.jwt_issuers ?? []).map(prepareIssuer) : [];
    this.cas = this.methods.has('mtls') ? parseCaBundle(cfg.mtls?.ca_certificates ?? []) : [];
    this.proxies = trustedProxyList(cfg.mtls?.trusted_proxies ?? []);
    if (cfg.throttle?.enabled) this.throttle = new Throttle(cfg.throttle, cfg.redis_key_prefix, this.redis);
  }

  /**
   * The gateway's request id is always a fresh UUIDv7: limit and quota reservations are keyed by
   * it, and a client-chosen id could be reused to refund another request's reservation. A
   * client's own `x-request-id` is kept beside it (`client_request_id`) for correlation.
   */
  async authenticate(req: AuthRequest): Promise<AuthResult> {
    const result = await this.decide(req);
    const clientRequestId = usableRequestId(headerValue(req.headers, this.cfg.request_id_header));
    if (result.ok && clientRequestId) result.identity.client_request_id = clientRequestId;
    return result;
  }

  private async decide(req: AuthRequest): Promise<AuthResult> {
    const cfg = this.cfg;
    const h = req.headers;
    const requestId = uuidv7();
    const refuse = (kind: RefusalKind, reason: string, method: AuthMethod | 'none', extra: Partial<Extract<AuthResult, { ok: false }>> = {}): AuthResult => ({ ok: false, kind, reason, method, requestId, ...extra });

    const cred = extractCredential(h, {
      apiKey: this.methods.has('api_key'),
      token: this.methods.has('jwt') || this.methods.has('oauth_introspection'),
      apiKeyHeader: cfg.api_key_header,
    });

    let ip: string | undefined;
    let ipRead = false;
    const clientIp = async () => {
      if (!ipRead) {
        ipRead = true;
        ip = await req.clientIp();
      }
      return ip;
    };

    // Credentials that can be guessed go through the throttle.
    if (cred.kind !== 'none' && this.throttle) {
      const addr = await clientIp();
      const blocked = addr ? this.throttle.blockedFor(addr, req.now) : 0;
      if (blocked > 0) return refuse('rate_limited', 'throttled', cred.kind === 'api_key' ? 'api_key' : 'jwt', { retryAfterMs: blocked });
    }
    const failed = async (reason: string, method: AuthMethod | 'none', extra: Partial<Extract<AuthResult, { ok: false }>> = {}): Promise<AuthResult> => {
      if (this.throttle) {
        const addr = await clientIp();
        if (addr) await this.throttle.recordFailure(addr, req.now);
      }
      return refuse('unauthenticated', reason, method, extra);
    };

    if (cred.kind === 'api_key') {
      const prefix = keyDisplayPrefix(cred.key);
      if (!isWellFormedKey(cred.key)) return failed('malformed_key', 'api_key', { keyPrefix: prefix });
      const hash = hashApiKey(cred.key);
      let record = this.staticKeys.get(hash);
      let method: AuthMethod = 'static_key';
      if (!record) {
        method = 'api_key';
        if (!this.keyStore) return failed('unknown_key', 'api_key', { keyPrefix: prefix });
        const found = await this.keyStore.lookup(hash, req.now);
        if (found.status === 'unavailable') return refuse('unavailable', 'key_store_unavailable', 'api_key', { keyPrefix: prefix });
        if (found.status === 'unknown') return failed('unknown_key', 'api_key', { keyPrefix: prefix });
        record = found.record;
      }
      if (record.revoked) return failed('revoked_key', method, { keyPrefix: prefix });
      if (!keyIsUsable(record, req.now)) return failed('expired_key', method, { keyPrefix: prefix });
      return this.finish(requestId, method, record.tenant_id, refuse, h, {
        key: { key_id: record.key_id, lineage_id: record.lineage_id, prefix: record.prefix || prefix },
        scopes: record.scopes,
        credentialHeader: cred.header,
      });
    }

    if (cred.kind === 'token') {
      const candidates = this.issuers.length && isJwtShaped(cred.token) ? findIssuers(cred.token, this.issuers) : [];
      if (candidates !== 'malformed' && candidates.length > 0) {
        // Usually one entry; with several for one `iss`, the first that verifies and may name the
        // token's tenant wins.
        let first: { reason: string; unavailable?: boolean; method: AuthMethod } | undefined;
        for (const issuer of candidates) {
          const method: AuthMethod = issuer.cfg.oauth ? 'oauth_jwt' : 'jwt';
          const out: JwtOutcome = await verifyWithIssuer(cred.token, issuer, req.now);
          if (!out.ok) {
            first ??= { reason: out.reason, unavailable: 'unavailable' in out, method };
            continue;
          }
          const c = out.claims as Record<string, unknown>;
          const tenant = tenantFromClaims(c, issuer.cfg);
          if (!tenant.ok) {
            first ??= { reason: tenant.reason, method };
            continue;
          }
          return this.fromClaims(requestId, method, c, issuer.cfg, refuse, failed, h);
        }
        const f = first as { reason: string; unavailable?: boolean; method: AuthMethod };
        return f.unavailable ? refuse('unavailable', f.reason, f.method) : failed(f.reason, f.method);
      }
      if (this.methods.has('oauth_introspection') && cfg.introspection?.endpoint) {
        const out = await introspect(cfg.introspection, cred.token, req.now);
        if (out.status === 'unavailable') return refuse('unavailable', 'introspection_unavailable', 'oauth_introspection');
        if (out.status === 'inactive') return failed('inactive_token', 'oauth_introspection');
        return this.fromClaims(requestId, 'oauth_introspection', out.claims, cfg.introspection, refuse, failed, h);
      }
      return failed(candidates === 'malformed' ? 'malformed' : 'unknown_issuer', 'jwt');
    }

    if (this.methods.has('mtls')) {
      const fwdHeader = cfg.mtls?.forwarded_cert_header?.toLowerCase();
      const forwarded = fwdHeader ? headerValue(h, fwdHeader) : undefined;
      let pem: string | undefined;
      if (forwarded) {
        // Only a configured proxy may vouch for a certificate; anyone else sending the header is refused.
        if (!isTrustedProxy(this.proxies, await req.peerIp())) return refuse('unauthenticated', 'untrusted_forwarder', 'mtls');
        pem = forwarded;
      } else {
        pem = await req.tlsChain();
      }
      if (pem) {
        const chain = parsePemChain(pem);
        const v = verifyChain(chain, this.cas, req.now);
        if (!v.ok) return refuse('unauthenticated', `cert_${v.reason}`, 'mtls');
        const tenant = tenantForCertificate(v.leaf, cfg.mtls.identities ?? []);
        if (!tenant) return refuse('unauthenticated', 'cert_unmapped', 'mtls');
        return this.finish(requestId, 'mtls', tenant, refuse, h, { credentialHeader: fwdHeader && forwarded ? fwdHeader : undefined });
      }
    }

    if (this.methods.has('consumer')) {
      const consumer = await req.consumer();
      if (consumer && typeof consumer === 'object' && consumer.id) {
        const tenant = this.tenantForConsumer(consumer);
        if (!tenant) return refuse('unauthenticated', 'consumer_unmapped', 'consumer');
        return this.finish(requestId, 'consumer', tenant, refuse, h, {});
      }
    }
    return refuse('unauthenticated', 'missing_credentials', 'none', { missing: true });
  }

  private tenantForConsumer(c: KongConsumer): string | undefined {
    const m = this.tenants.byConsumer;
    if (c.username && m.has(c.username)) return m.get(c.username);
    if (c.custom_id && m.has(c.custom_id)) return m.get(c.custom_id);
    const tags = Array.isArray(c.tags) ? c.tags : [];
    for (const t of tags) if (typeof t === 'string' && t.startsWith('llg-tenant:')) return t.slice('llg-tenant:'.length);
    return undefined;
  }

  private async fromClaims(
    requestId: string,
    method: AuthMethod,
    claims: Record<string, unknown>,
    source: ClaimSource,
    refuse: (kind: RefusalKind, reason: string, method: AuthMethod | 'none') => AuthResult,
    failed: (reason: string, method: AuthMethod | 'none') => Promise<AuthResult>,
    h: MultiMap | undefined,
  ): Promise<AuthResult> {
    const map = source.claims;
    const t = tenantFromClaims(claims, source);
    if (!t.ok) return failed(t.reason, method);
    const tenant = t.tenant;
    return this.finish(requestId, method, tenant, refuse, h, {
      tierOverride: stringClaim(claims, map.tier),
      scopes: scopesFromClaim(claims[map.scopes]),
      endUserId: stringClaim(claims, map.end_user),
      credentialHeader: 'authorization',
    });
  }

  private finish(
    requestId: string,
    method: AuthMethod,
    tenantId: string,
    refuse: (kind: RefusalKind, reason: string, method: AuthMethod | 'none', extra?: Partial<Extract<AuthResult, { ok: false }>>) => AuthResult,
    h: MultiMap | undefined,
    o: { key?: { key_id: string; lineage_id: string; prefix?: string }; scopes?: { models?: string[]; features?: string[] }; tierOverride?: string; endUserId?: string; credentialHeader?: string },
  ): AuthResult {
    const keyPrefix = o.key?.prefix;
    const t = lookupTenant(this.tenants, tenantId, o.tierOverride);
    if (!t.ok) return t.reason === 'tenant_disabled' ? refuse('forbidden', t.reason, method, { keyPrefix }) : refuse('unauthenticated', t.reason, method, { keyPrefix });
    const identity = buildIdentity({
      requestId,
      method,
      tenant: t.tenant,
      key: o.key,
      scopes: o.scopes,
      endUserId: o.endUserId,
      endUserHmacKey: this.cfg.end_user_hmac_key,
    });
    const feature = authorizeFeature(identity.scopes.features, this.cfg.route_feature, headerValue(h, this.cfg.feature_header), this.cfg.require_feature);
    if (!feature.ok) return refuse('forbidden', feature.reason, method, { keyPrefix });
    if (feature.feature) identity.feature = feature.feature;
    return { ok: true, identity, credentialHeader: o.credentialHeader };
  }
}
