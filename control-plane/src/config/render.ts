/**
 * Rendering the gateway's declarative config (pure: no I/O).
 *
 * Input: the platform team's kong.yml (services, routes, plugin placement) and what the control
 * plane owns (tiers, tenants, prices, JWT issuers, mTLS identities). Output: the config to POST to
 * Kong's /config — decK-only keys stripped; every llm-auth plugin given `tiers`, `tenants`,
 * `jwt_issuers`, `mtls.identities` (the rest of `mtls` stays the platform's), `redis_key_prefix`
 * and, without Redis, the static `keys` list (hashes only); every llm-cost-quota plugin given
 * `prices` and `aliases`; those plugins tagged as managed, and every llm-* plugin config validated
 * against the plugin's own Kong schema. Errors name the plugin and the field.
 */
import { flattenFieldErrors, validateKongConfig } from '../../../plugins/core/schema';
import type { TenantConfig, TierConfig } from '../../../plugins/core/tenancy';
import { fieldNames, LLM_PLUGINS, type SchemaMap } from './plugin-schemas';

export type DeclarativeConfig = Record<string, unknown> & { _format_version?: string };

/** The tag kong/kong.yml puts on the plugin entities whose data the control plane owns. */
export const MANAGED_TAG = 'llg-managed';

const tagsOf = (p: Record<string, unknown>): string[] => (Array.isArray(p.tags) ? (p.tags as unknown[]).filter((t): t is string => typeof t === 'string') : []);

export interface PriceInputRow {
  model: string;
  input_per_m_usd: number;
  output_per_m_usd: number;
  cached_input_per_m_usd: number | null;
  aliases: string[];
}
export interface JwtIssuerInputRow {
  id: string;
  tenant_id: string;
  issuer: string;
  audiences: string[];
  algorithms: string[];
  jwks_url: string | null;
  public_key_pem: string | null;
  claims: Record<string, string>;
}
export interface MtlsInputRow {
  id: string;
  tenant_id: string;
  fingerprint_sha256: string | null;
  subject: string | null;
}

export interface RenderInput {
  base: DeclarativeConfig;
  tiers: TierConfig[];
  tenants: TenantConfig[];
  prices: PriceInputRow[];
  jwtIssuers?: JwtIssuerInputRow[];
  mtlsIdentities?: MtlsInputRow[];
  /** Rendered into llm-auth `keys` (setups without Redis). */
  staticKeys?: StaticKeyRow[];
  /** Written into llm-auth `redis_key_prefix` so the gateway reads the records the control plane writes. */
  redisKeyPrefix?: string;
  /** Filled into llm-auth `redis` when the base config sets no host. */
  redis?: { host: string; port?: number; database?: number };
  schemas: SchemaMap;
}

export interface RenderResult {
  config: DeclarativeConfig;
  errors: string[];
  warnings: string[];
}

/** Used when kong/kong.yml is absent: one route to the upstream with the pack's auth plugin. */
export function builtinBase(upstreamUrl = 'http://127.0.0.1:8080'): DeclarativeConfig {
  return {
    _format_version: '3.0',
    services: [{ name: 'llm-upstream', url: upstreamUrl, routes: [{ name: 'llm', paths: ['/v1'] }] }],
    plugins: [{ name: 'llm-auth', config: {} }],
  };
}

/** decK-only keys (`_info`, `_konnect`, `_ignore`, …) are refused by Kong's /config. */
const KEEP_UNDERSCORE = new Set(['_format_version', '_transform']);
export function stripDeckKeys(value: unknown, top = true): unknown {
  if (Array.isArray(value)) return value.map((v) => stripDeckKeys(v, false));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('_') && !(top && KEEP_UNDERSCORE.has(k))) continue;
      out[k] = stripDeckKeys(v, false);
    }
    return out;
  }
  return value;
}

interface PluginRef {
  plugin: Record<string, unknown>;
  where: string;
}

/** Every plugin entity of a decK file: global, per service, per route (nested or top-level), per consumer. */
export function collectPlugins(cfg: DeclarativeConfig): PluginRef[] {
  const out: PluginRef[] = [];
  const take = (list: unknown, where: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((p, i) => {
      if (p && typeof p === 'object') out.push({ plugin: p as Record<string, unknown>, where: `${where}[${i + 1}]` });
    });
  };
  const named = (e: Record<string, unknown>, i: number) => (typeof e.name === 'string' ? e.name : String(i + 1));
  take(cfg.plugins, 'plugins');
  const services = Array.isArray(cfg.services) ? (cfg.services as Record<string, unknown>[]) : [];
  services.forEach((s, i) => {
    take(s.plugins, `services(${named(s, i)}).plugins`);
    const routes = Array.isArray(s.routes) ? (s.routes as Record<string, unknown>[]) : [];
    routes.forEach((r, j) => take(r.plugins, `services(${named(s, i)}).routes(${named(r, j)}).plugins`));
  });
  const routes = Array.isArray(cfg.routes) ? (cfg.routes as Record<string, unknown>[]) : [];
  routes.forEach((r, j) => take(r.plugins, `routes(${named(r, j)}).plugins`));
  const consumers = Array.isArray(cfg.consumers) ? (cfg.consumers as Record<string, unknown>[]) : [];
  consumers.forEach((c, j) => take(c.plugins, `consumers(${typeof c.username === 'string' ? c.username : j + 1}).plugins`));
  return out;
}

/** Static API keys rendered into llm-auth's `keys` (hashes only) when there is no Redis. */
export interface StaticKeyRow {
  id: string;
  tenant_id: string;
  lineage_id: string;
  prefix: string;
  hash: string;
  scopes: { models?: string[]; features?: string[] } | null;
  expires_at: Date | null;
}

function addTag(plugin: Record<string, unknown>): void {
  const tags = tagsOf(plugin);
  if (!tags.includes(MANAGED_TAG)) tags.push(MANAGED_TAG);
  plugin.tags = tags;
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));

/** llm-auth `jwt_issuers` element: the issuer's tenant is its default tenant. */
export function renderJwtIssuer(j: JwtIssuerInputRow): Record<string, unknown> {
  const claims = defined({ tenant: j.claims.tenant, end_user: j.claims.end_user, scopes: j.claims.scopes });
  return defined({
    issuer: j.issuer,
    audiences: j.audiences,
    algorithms: j.algorithms,
    jwks_uri: j.jwks_url,
    public_key: j.public_key_pem,
    default_tenant: j.tenant_id,
    ...(Object.keys(claims).length ? { claims } : {}),
  });
}

export function renderStaticKey(k: StaticKeyRow): Record<string, unknown> {
  return defined({
    hash: k.hash,
    tenant: k.tenant_id,
    key_id: k.id,
    lineage_id: k.lineage_id,
    prefix: k.prefix.slice(0, 16),
    expires_at: k.expires_at ? k.expires_at.getTime() : undefined,
    models: k.scopes?.models,
    features: k.scopes?.features,
  });
}

function renderAuth(cfg: Record<string, unknown>, names: Set<string>, input: RenderInput): void {
  cfg.tiers = input.tiers;
  cfg.tenants = input.tenants;
  if (names.has('jwt_issuers') && input.jwtIssuers) cfg.jwt_issuers = input.jwtIssuers.map(renderJwtIssuer);
  if (names.has('mtls') && input.mtlsIdentities) {
    const mtls = cfg.mtls && typeof cfg.mtls === 'object' && !Array.isArray(cfg.mtls) ? (cfg.mtls as Record<string, unknown>) : {};
    mtls.identities = input.mtlsIdentities.map((m) => defined({ fingerprint_sha256: m.fingerprint_sha256, subject: m.subject, tenant: m.tenant_id }));
    cfg.mtls = mtls;
  }
  if (names.has('keys') && input.staticKeys) cfg.keys = input.staticKeys.map(renderStaticKey);
  if (names.has('redis_key_prefix') && input.redisKeyPrefix) cfg.redis_key_prefix = input.redisKeyPrefix;
  if (names.has('redis') && input.redis) {
    const redis = cfg.redis && typeof cfg.redis === 'object' && !Array.isArray(cfg.redis) ? (cfg.redis as Record<string, unknown>) : {};
    if (redis.host === undefined) Object.assign(redis, defined({ host: input.redis.host, port: input.redis.port, database: input.redis.database }));
    cfg.redis = redis;
  }
}

function renderQuota(cfg: Record<string, unknown>, names: Set<string>, input: RenderInput): boolean {
  if (!names.has('prices')) return false;
  cfg.prices = Object.fromEntries(
    input.prices.map((p) => [p.model, defined({ input_per_1m: p.input_per_m_usd, output_per_1m: p.output_per_m_usd, cached_input_per_1m: p.cached_input_per_m_usd })]),
  );
  if (names.has('aliases')) {
    const aliases: Record<string, string> = {};
    for (const p of input.prices) for (const a of p.aliases) aliases[a] = p.model;
    cfg.aliases = aliases;
  }
  return true;
}

export function renderConfig(input: RenderInput): RenderResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const config = stripDeckKeys(structuredClone(input.base)) as DeclarativeConfig;
  if (config._format_version === undefined) config._format_version = '3.0';

  const plugins = collectPlugins(config);
  // When the base tags some llm-auth / llm-cost-quota plugins `llg-managed`, only those are
  // rendered; an untagged base (older files, the built-in base) has all of them rendered.
  const ownable = plugins.filter(({ plugin }) => plugin.name === 'llm-auth' || plugin.name === 'llm-cost-quota');
  const tagMode = ownable.some(({ plugin }) => tagsOf(plugin).includes(MANAGED_TAG));
  const owned = (p: Record<string, unknown>) => !tagMode || tagsOf(p).includes(MANAGED_TAG);
  const authSchema = input.schemas.get('llm-auth');
  const authNames = fieldNames(authSchema);
  const quotaNames = fieldNames(input.schemas.get('llm-cost-quota'));
  let authCount = 0;

  for (const { plugin, where } of plugins) {
    const name = plugin.name;
    if (typeof name !== 'string') {
      errors.push(`${where}: plugin without a name`);
      continue;
    }
    if (!(LLM_PLUGINS as readonly string[]).includes(name)) continue;
    const cfg = (plugin.config && typeof plugin.config === 'object' && !Array.isArray(plugin.config) ? plugin.config : {}) as Record<string, unknown>;
    if (name === 'llm-auth' && owned(plugin)) {
      authCount++;
      renderAuth(cfg, authNames, input);
      addTag(plugin);
    }
    if (name === 'llm-cost-quota' && owned(plugin) && renderQuota(cfg, quotaNames, input)) addTag(plugin);
    plugin.config = cfg;
    const schema = input.schemas.get(name);
    if (!schema) {
      errors.push(`${where} (${name}): the plugin's schema is not available, its config cannot be checked`);
      continue;
    }
    const res = validateKongConfig(schema, cfg);
    if (!res.ok) for (const line of flattenFieldErrors(res.errors)) errors.push(`${where} (${name}).config.${line}`);
  }
  if (authCount === 0) warnings.push(`no llm-auth plugin${tagMode ? ` tagged ${MANAGED_TAG}` : ''} in the base config: tiers and tenants were not rendered anywhere`);

  // Cross-checks Kong cannot do: every tenant names a tier that exists.
  const tierNames = new Set(input.tiers.map((t) => t.name));
  for (const t of input.tenants) if (!tierNames.has(t.tier)) errors.push(`tenant ${t.id}: unknown tier ${t.tier}`);
  return { config, errors, warnings };
}
