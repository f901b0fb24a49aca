/**
 * llm-auth configuration: the Kong field list the plugin server reports (strict, with defaults
 * and a description on every field) and the TypeScript type of the validated config.
 *
 * `tiers` and `tenants` embed the shared fragments from plugins/core/tenancy.ts: the control plane
 * renders exactly those. Every secret field is `referenceable` (Kong vault references).
 */
import { redisConfigField, type RedisConfig } from '../core/redis/schema';
import { f, fieldList, type KongField } from '../core/schema';
import { TENANT_FIELD, TIER_FIELD, type TenantConfig, type TierConfig } from '../core/tenancy';

export const AUTH_METHODS = ['api_key', 'consumer', 'jwt', 'oauth_introspection', 'mtls'] as const;
export type EnabledMethod = (typeof AUTH_METHODS)[number];

/** Asymmetric and HMAC algorithms jose verifies; `none` is never accepted. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'] as const;

const CLAIMS_FIELD = f.record(
  {
    tenant: f.string({ default: 'tenant_id', len_min: 1, description: 'Claim holding the tenant id.' }),
    tier: f.string({ len_min: 1, description: 'Claim naming a configured tier that replaces the tenant tier (optional).' }),
    scopes: f.string({ default: 'scope', len_min: 1, description: 'Claim with scopes (space-separated string or array); `model:<glob>` and `feature:<name>` entries narrow the tenant scopes.' }),
    end_user: f.string({ default: 'sub', len_min: 1, description: 'Claim with the end-user id; only its HMAC (end_user_hmac_key) is kept.' }),
  },
  { description: 'Which claims map to tenant, tier, scopes and end user.' },
);

const REDIS_FIELD = redisConfigField({
  connect_timeout_ms: 500,
  command_timeout_ms: 250,
  hostNote: 'Redis host. No host, url or cluster_nodes = no Redis: only static `keys` authenticate API keys, throttling is local, no events.',
  description: 'Redis holding API-key records, revocations, throttling counters and the events stream.',
});

const STATIC_KEY_FIELD = f.record({
  hash: f.string({ required: true, len_min: 64, len_max: 64, description: 'SHA-256 (hex) of the API key; never the key itself.' }),
  tenant: f.string({ required: true, len_min: 1, description: 'Tenant id the key acts as.' }),
  key_id: f.string({ len_min: 1, description: 'Key id (default: the first 16 hex characters of the hash).' }),
  lineage_id: f.string({ len_min: 1, description: 'Lineage shared by rotated keys (default: the key id).' }),
  prefix: f.string({ len_min: 1, len_max: 16, description: 'Displayable key prefix (`lg_live_AbCd`) for logs and events.' }),
  expires_at: f.integer({ gt: 0, description: 'Expiry, epoch milliseconds (unset = none).' }),
  models: f.array(f.string({ len_min: 1 }), { description: 'Narrows the tenant model allowlist.' }),
  features: f.array(f.string({ len_min: 1 }), { description: 'Narrows the tenant feature list.' }),
});

const ISSUER_FIELD = f.record({
  issuer: f.string({ required: true, len_min: 1, description: 'Expected `iss`.' }),
  audiences: f.array(f.string({ len_min: 1 }), { default: [], description: 'Accepted `aud` values (empty = `aud` not checked).' }),
  algorithms: f.array(f.string({ one_of: JWT_ALGORITHMS }), { required: true, len_min: 1, description: 'Algorithms accepted for this issuer (pinned; never taken from the token).' }),
  jwks_uri: f.string({ len_min: 1, description: 'JWKS URL (cached; refreshed on an unknown `kid` at most once per cooldown).' }),
  public_key: f.string({ len_min: 1, description: 'PEM public key (SPKI) instead of a JWKS.' }),
  hs_secret: f.string({ len_min: 1, referenceable: true, description: 'HMAC secret for HS* algorithms (referenceable).' }),
  leeway_seconds: f.integer({ default: 30, between: [0, 600], description: 'Clock leeway for exp/nbf/iat, seconds.' }),
  max_age_seconds: f.integer({ gt: 0, description: 'Refuse tokens whose `iat` is older than this (optional).' }),
  oauth: f.boolean({ default: false, description: 'Tokens are OAuth 2.0 access tokens (identity method `oauth_jwt`).' }),
  default_tenant: f.string({ len_min: 1, description: 'Tenant when the tenant claim is absent (unset = refuse).' }),
  allowed_tenants: f.array(f.string({ len_min: 1 }), { default: [], description: 'Tenants this issuer may name. Empty: only `default_tenant` when it is set, any tenant otherwise.' }),
  claims: CLAIMS_FIELD,
  jwks_cooldown_seconds: f.integer({ default: 30, between: [1, 3600], description: 'Minimum time between two JWKS fetches.' }),
  jwks_cache_seconds: f.integer({ default: 600, between: [1, 86400], description: 'JWKS considered fresh for this long.' }),
  jwks_timeout_ms: f.integer({ default: 2000, gt: 0, description: 'JWKS fetch timeout, ms.' }),
});

const INTROSPECTION_FIELD = f.record(
  {
    endpoint: f.string({ len_min: 1, description: 'RFC 7662 introspection endpoint URL.' }),
    client_id: f.string({ len_min: 1, description: 'Client id for the endpoint (HTTP Basic).' }),
    client_secret: f.string({ len_min: 1, referenceable: true, description: 'Client secret (referenceable).' }),
    timeout_ms: f.integer({ default: 2000, gt: 0, description: 'Request timeout, ms; a timeout answers 503.' }),
    cache_max_entries: f.integer({ default: 10000, between: [1, 1000000], description: 'Bound of the result cache.' }),
    cache_ttl_seconds: f.integer({ default: 60, between: [1, 3600], description: 'Active results cached this long (never past the token `exp`).' }),
    negative_ttl_seconds: f.integer({ default: 5, between: [1, 60], description: 'Inactive results cached this long.' }),
    default_tenant: f.string({ len_min: 1, description: 'Tenant when the tenant claim is absent (unset = refuse).' }),
    allowed_tenants: f.array(f.string({ len_min: 1 }), { default: [], description: 'Tenants the tokens may name. Empty: only `default_tenant` when it is set, any tenant otherwise.' }),
    claims: CLAIMS_FIELD,
  },
  { description: 'OAuth 2.0 opaque tokens via RFC 7662 introspection.' },
);

const MTLS_FIELD = f.record(
  {
    ca_certificates: f.array(f.string({ len_min: 1 }), { default: [], description: 'PEM CA certificates (each entry may hold several) client chains must lead to.' }),
    identities: f.array(
      f.record({
        fingerprint_sha256: f.string({ len_min: 64, len_max: 95, description: 'SHA-256 fingerprint of the client certificate (hex, colons optional).' }),
        subject: f.string({ len_min: 1, description: 'Subject DN (`CN=svc-a,O=Acme` or `/O=Acme/CN=svc-a`; attributes compared in any order), or `CN=<name>` alone to match the common name.' }),
        tenant: f.string({ required: true, len_min: 1, description: 'Tenant id.' }),
      }),
      { default: [], description: 'Certificate → tenant mappings.' },
    ),
    trusted_proxies: f.array(f.string({ len_min: 1 }), { default: [], description: 'Addresses (IP or CIDR) allowed to forward a client certificate in a header.' }),
    forwarded_cert_header: f.string({ len_min: 1, description: 'Header with the URL-encoded PEM client certificate (nginx $ssl_client_escaped_cert); only from trusted proxies.' }),
  },
  { description: 'Mutual TLS client certificates.' },
);

export const FIELDS = {
  methods: f.set(f.string({ one_of: AUTH_METHODS }), { default: ['api_key'], len_min: 1, description: 'Credential methods accepted on this route.' }),
  api_key_header: f.string({ default: 'authorization', len_min: 1, description: 'Header carrying the API key; `authorization` expects `Bearer <key>`, any other header the bare key.' }),
  tiers: f.array(TIER_FIELD, { default: [], description: 'Tiers (rendered by the control plane).' }),
  tenants: f.array(TENANT_FIELD, { default: [], description: 'Tenants (rendered by the control plane).' }),
  redis: REDIS_FIELD,
  redis_key_prefix: f.string({ default: 'llg:', len_min: 1, description: 'Prefix of every Redis key and channel.' }),
  keys: f.array(STATIC_KEY_FIELD, { default: [], description: 'Static API keys (hashes only) for setups without Redis; checked before Redis.' }),
  cache: f.record(
    {
      max_entries: f.integer({ default: 10000, between: [1, 1000000], description: 'Bound of the in-process API-key cache (LRU).' }),
      ttl_seconds: f.integer({ default: 30, between: [1, 3600], description: 'Found keys cached this long (revocations drop them at once).' }),
      negative_ttl_seconds: f.integer({ default: 5, between: [1, 60], description: 'Unknown keys cached this long.' }),
    },
    { description: 'API-key cache.' },
  ),
  jwt_issuers: f.array(ISSUER_FIELD, { default: [], description: 'Trusted JWT / OAuth 2.0 JWT access-token issuers.' }),
  introspection: INTROSPECTION_FIELD,
  mtls: MTLS_FIELD,
  upstream_auth: f.record(
    {
      header: f.string({ default: 'authorization', len_min: 1, description: 'Header the provider credential goes in.' }),
      scheme: f.string({ len_min: 1, len_max: 32, description: 'Written before the value with one space, e.g. `Bearer` (a vault reference must be the whole `value`).' }),
      value: f.string({ len_min: 1, referenceable: true, description: 'Provider credential, e.g. `{vault://env/OPENAI_API_KEY}` (referenceable). Unset = the client credential is only removed.' }),
    },
    { description: 'Provider credential that replaces the client credential upstream.' },
  ),
  feature_header: f.string({ default: 'x-llm-feature', len_min: 1, description: 'Request header naming the feature.' }),
  route_feature: f.string({ len_min: 1, description: 'Feature of this route; when set the header is ignored.' }),
  require_feature: f.boolean({ default: false, description: 'Refuse (403) requests that name no feature.' }),
  throttle: f.record(
    {
      enabled: f.boolean({ default: true, description: 'Throttle clients that fail authentication.' }),
      max_failures: f.integer({ default: 10, between: [1, 100000], description: 'Failures per window before the client IP is blocked.' }),
      window_seconds: f.integer({ default: 60, between: [1, 86400], description: 'Failure counting window.' }),
      block_seconds: f.integer({ default: 300, between: [1, 86400], description: 'How long a blocked IP gets 429.' }),
    },
    { description: 'Failed-authentication throttling per client IP (Redis when configured, else local).' },
  ),
  request_id_header: f.string({ default: 'x-request-id', len_min: 1, description: 'Request id header; absent → a new UUIDv7.' }),
  end_user_hmac_key: f.string({ len_min: 16, referenceable: true, description: 'HMAC key for end-user ids from claims (referenceable). Unset = no end-user id kept.' }),
  events: f.record(
    {
      enabled: f.boolean({ default: true, description: 'Write one `auth` event per request to `<prefix>events` (needs Redis).' }),
      maxlen: f.integer({ default: 100000, gt: 0, description: 'Approximate stream bound (XADD MAXLEN ~).' }),
    },
    { description: 'Event stream.' },
  ),
} satisfies Record<string, KongField>;

export const Schema = fieldList(FIELDS);

export interface ClaimsConfig {
  tenant: string;
  tier?: string;
  scopes: string;
  end_user: string;
}


export interface StaticKeyConfig {
  hash: string;
  tenant: string;
  key_id?: string;
  lineage_id?: string;
  prefix?: string;
  expires_at?: number;
  models?: string[];
  features?: string[];
}

export interface IssuerConfig {
  issuer: string;
  audiences: string[];
  algorithms: string[];
  jwks_uri?: string;
  public_key?: string;
  hs_secret?: string;
  leeway_seconds: number;
  max_age_seconds?: number;
  oauth: boolean;
  default_tenant?: string;
  allowed_tenants: string[];
  claims: ClaimsConfig;
  jwks_cooldown_seconds: number;
  jwks_cache_seconds: number;
  jwks_timeout_ms: number;
}

export interface IntrospectionConfig {
  endpoint?: string;
  client_id?: string;
  client_secret?: string;
  timeout_ms: number;
  cache_max_entries: number;
  cache_ttl_seconds: number;
  negative_ttl_seconds: number;
  default_tenant?: string;
  allowed_tenants: string[];
  claims: ClaimsConfig;
}

export interface MtlsIdentityConfig {
  fingerprint_sha256?: string;
  subject?: string;
  tenant: string;
}

export interface MtlsConfig {
  ca_certificates: string[];
  identities: MtlsIdentityConfig[];
  trusted_proxies: string[];
  forwarded_cert_header?: string;
}

export interface AuthConfig {
  methods: EnabledMethod[];
  api_key_header: string;
  tiers: TierConfig[];
  tenants: TenantConfig[];
  redis: RedisConfig;
  redis_key_prefix: string;
  keys: StaticKeyConfig[];
  cache: { max_entries: number; ttl_seconds: number; negative_ttl_seconds: number };
  jwt_issuers: IssuerConfig[];
  introspection: IntrospectionConfig;
  mtls: MtlsConfig;
  upstream_auth: { header: string; scheme?: string; value?: string };
  feature_header: string;
  route_feature?: string;
  require_feature: boolean;
  throttle: { enabled: boolean; max_failures: number; window_seconds: number; block_seconds: number };
  request_id_header: string;
  end_user_hmac_key?: string;
  events: { enabled: boolean; maxlen: number };
}
