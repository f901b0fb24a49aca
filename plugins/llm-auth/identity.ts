/**
 * Building the identity (pure): a resolved tenant, the credential's own narrowing (key scopes,
 * token scopes, tier claim) and the request id → the `llm.identity` value; feature authorisation.
 */
import type { AuthMethod, LlmIdentity } from '../core/context';
import { hmacSha256Hex } from '../core/hash';
import { matchesAllowlist, resolveTenant, type ResolvedTenant, type TenantConfig, type TierConfig } from '../core/tenancy';

export interface TenantIndex {
  tenants: Map<string, TenantConfig>;
  tiers: Map<string, TierConfig>;
  /** Resolved with the tenant's own tier (computed once per instance). */
  resolved: Map<string, ResolvedTenant>;
  /** Kong consumer username / custom_id → tenant id. */
  byConsumer: Map<string, string>;
}

export function buildTenantIndex(tenants: TenantConfig[], tiers: TierConfig[]): TenantIndex {
  const tierMap = new Map(tiers.map((t) => [t.name, t]));
  const tenantMap = new Map<string, TenantConfig>();
  const resolved = new Map<string, ResolvedTenant>();
  const byConsumer = new Map<string, string>();
  for (const t of tenants) {
    tenantMap.set(t.id, t);
    const r = resolveTenant(t, tierMap);
    if (!r) continue;
    resolved.set(t.id, r);
    for (const c of t.consumers ?? []) byConsumer.set(c, t.id);
  }
  return { tenants: tenantMap, tiers: tierMap, resolved, byConsumer };
}

export type TenantLookup = { ok: true; tenant: ResolvedTenant } | { ok: false; reason: 'unknown_tenant' | 'tenant_disabled' };

/** The tenant, optionally with a tier named by a token claim (only a configured tier counts). */
export function lookupTenant(index: TenantIndex, tenantId: string, tierOverride?: string): TenantLookup {
  let tenant = index.resolved.get(tenantId);
  if (!tenant) return { ok: false, reason: 'unknown_tenant' };
  if (tierOverride && tierOverride !== tenant.tier && index.tiers.has(tierOverride)) {
    const cfg = index.tenants.get(tenantId) as TenantConfig;
    tenant = resolveTenant({ ...cfg, tier: tierOverride }, index.tiers) ?? tenant;
  }
  if (tenant.disabled) return { ok: false, reason: 'tenant_disabled' };
  return { ok: true, tenant };
}

/**
 * Narrow an allowlist by a credential's own list: an entry survives when the tenant list allows
 * it (a glob entry only when the tenant has `*` or the same glob). Undefined = no narrowing.
 */
export function narrow(tenantList: string[], credentialList: string[] | undefined): string[] {
  if (!credentialList) return tenantList;
  return credentialList.filter((p) => (p.includes('*') ? tenantList.includes('*') || tenantList.includes(p) : matchesAllowlist(p, tenantList)));
}

/** Scopes from a claim (space-separated string or array): `model:<glob>` and `feature:<name>`. */
export function scopesFromClaim(value: unknown): { models?: string[]; features?: string[] } {
  const items = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  const models: string[] = [];
  const features: string[] = [];
  for (const s of items) {
    if (s.startsWith('model:') && s.length > 6) models.push(s.slice(6));
    else if (s.startsWith('feature:') && s.length > 8) features.push(s.slice(8));
  }
  return { models: models.length ? models : undefined, features: features.length ? features : undefined };
}

export interface IdentityInput {
  requestId: string;
  method: AuthMethod;
  tenant: ResolvedTenant;
  key?: { key_id: string; lineage_id: string; prefix?: string };
  scopes?: { models?: string[]; features?: string[] };
  endUserId?: string;
  endUserHmacKey?: string;
  feature?: string;
}

export function buildIdentity(i: IdentityInput): Omit<LlmIdentity, 'v'> {
  const t = i.tenant;
  return {
    request_id: i.requestId,
    tenant_id: t.tenant_id,
    tier: t.tier,
    method: i.method,
    ...(i.key ? { key_id: i.key.key_id, lineage_id: i.key.lineage_id, ...(i.key.prefix ? { key_prefix: i.key.prefix } : {}) } : {}),
    ...(i.endUserId && i.endUserHmacKey ? { end_user_hash: endUserHash(i.endUserHmacKey, i.endUserId) } : {}),
    scopes: { models: narrow(t.scopes.models, i.scopes?.models), features: narrow(t.scopes.features, i.scopes?.features) },
    ...(i.feature ? { feature: i.feature } : {}),
    timezone: t.timezone,
    limits: t.limits,
    budgets: t.budgets,
    input: t.input,
  };
}

export function endUserHash(key: string, id: string): string {
  return hmacSha256Hex(key, id).slice(0, 32);
}

export type FeatureCheck = { ok: true; feature?: string } | { ok: false; reason: 'feature_not_allowed' | 'feature_required' };

/** The route's feature wins over the header (a client cannot pick a feature the route does not serve). */
export function authorizeFeature(features: string[], routeFeature: string | undefined, headerFeature: string | undefined, required: boolean): FeatureCheck {
  const feature = routeFeature ?? (headerFeature && headerFeature.trim() ? headerFeature.trim() : undefined);
  if (!feature) return required ? { ok: false, reason: 'feature_required' } : { ok: true };
  return matchesAllowlist(feature, features) ? { ok: true, feature } : { ok: false, reason: 'feature_not_allowed' };
}
