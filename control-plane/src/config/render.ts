/**
 * Rendering the gateway's declarative config (pure: no I/O).
 *
 * Input: the platform team's kong.yml (services, routes, plugin placement) and what the control
 * plane owns (tiers, tenants, prices, JWT issuers, mTLS identities). Output: the config to POST to
 * Kong's /config — decK-only keys stripped, every llm-auth plugin given `tiers`/`tenants` (and the
 * identity sources its schema declares), every llm-cost-quota plugin given `prices` (when its
 * schema has the field), those plugins tagged as managed, and every llm-* plugin config validated
 * against the plugin's own Kong schema. Errors name the plugin and the field.
 */
import { flattenFieldErrors, validateKongConfig, type KongField } from '../../../plugins/core/schema';
import { usdToNano } from '../../../plugins/core/money';
import type { TenantConfig, TierConfig } from '../../../plugins/core/tenancy';
import { fieldNames, fieldOf, LLM_PLUGINS, type SchemaMap } from './plugin-schemas';

export type DeclarativeConfig = Record<string, unknown> & { _format_version?: string };

export const MANAGED_TAG = 'llg-control-plane';

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

function elementFields(field: KongField | undefined): string[] {
  const rec = field?.type === 'array' || field?.type === 'set' ? field.elements : field?.type === 'map' ? field.values : undefined;
  return (rec?.fields ?? []).map((e) => Object.keys(e)[0] as string);
}

/** A price row shaped as the price schema's element (field names matched by meaning). */
function priceElement(p: PriceInputRow, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const nano = n.includes('nano');
    const money = (usd: number | null) => (usd === null ? undefined : nano ? usdToNano(usd) : usd);
    let v: unknown;
    if (n === 'model' || n === 'name') v = p.model;
    else if (n.includes('alias')) v = p.aliases;
    else if (n.includes('cached')) v = money(p.cached_input_per_m_usd);
    else if (n.includes('input')) v = money(p.input_per_m_usd);
    else if (n.includes('output')) v = money(p.output_per_m_usd);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

function renderPrices(prices: PriceInputRow[], field: KongField): unknown {
  const names = elementFields(field);
  if (field.type === 'map') {
    return Object.fromEntries(prices.map((p) => [p.model, priceElement(p, names.filter((n) => n !== 'model'))]));
  }
  return prices.map((p) => priceElement(p, names));
}

function addTag(plugin: Record<string, unknown>): void {
  const tags = Array.isArray(plugin.tags) ? (plugin.tags as unknown[]).filter((t): t is string => typeof t === 'string') : [];
  if (!tags.includes(MANAGED_TAG)) tags.push(MANAGED_TAG);
  plugin.tags = tags;
}

/** Identity sources rendered into llm-auth only when its schema declares the field. */
function renderAuthExtras(config: Record<string, unknown>, names: Set<string>, input: RenderInput): void {
  if (names.has('jwt_issuers') && input.jwtIssuers) {
    const elem = elementFields(fieldOf(input.schemas.get('llm-auth'), 'jwt_issuers'));
    config.jwt_issuers = input.jwtIssuers.map((j) => {
      const full: Record<string, unknown> = {
        id: j.id,
        tenant_id: j.tenant_id,
        tenant: j.tenant_id,
        issuer: j.issuer,
        audiences: j.audiences,
        algorithms: j.algorithms,
        jwks_url: j.jwks_url ?? undefined,
        public_key_pem: j.public_key_pem ?? undefined,
        public_key: j.public_key_pem ?? undefined,
        tenant_claim: j.claims.tenant,
        end_user_claim: j.claims.end_user,
        scopes_claim: j.claims.scopes,
      };
      return Object.fromEntries(Object.entries(full).filter(([k, v]) => v !== undefined && (elem.length === 0 || elem.includes(k))));
    });
  }
  if (names.has('mtls_identities') && input.mtlsIdentities) {
    const elem = elementFields(fieldOf(input.schemas.get('llm-auth'), 'mtls_identities'));
    config.mtls_identities = input.mtlsIdentities.map((m) => {
      const full: Record<string, unknown> = { id: m.id, tenant_id: m.tenant_id, tenant: m.tenant_id, fingerprint_sha256: m.fingerprint_sha256 ?? undefined, subject: m.subject ?? undefined };
      return Object.fromEntries(Object.entries(full).filter(([k, v]) => v !== undefined && (elem.length === 0 || elem.includes(k))));
    });
  }
}

export function renderConfig(input: RenderInput): RenderResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const config = stripDeckKeys(structuredClone(input.base)) as DeclarativeConfig;
  if (config._format_version === undefined) config._format_version = '3.0';

  const plugins = collectPlugins(config);
  const authSchema = input.schemas.get('llm-auth');
  const authNames = fieldNames(authSchema);
  const quotaSchema = input.schemas.get('llm-cost-quota');
  const pricesField = fieldOf(quotaSchema, 'prices');
  let authCount = 0;

  for (const { plugin, where } of plugins) {
    const name = plugin.name;
    if (typeof name !== 'string') {
      errors.push(`${where}: plugin without a name`);
      continue;
    }
    if (!(LLM_PLUGINS as readonly string[]).includes(name)) continue;
    const cfg = (plugin.config && typeof plugin.config === 'object' && !Array.isArray(plugin.config) ? plugin.config : {}) as Record<string, unknown>;
    if (name === 'llm-auth') {
      authCount++;
      cfg.tiers = input.tiers;
      cfg.tenants = input.tenants;
      renderAuthExtras(cfg, authNames, input);
      addTag(plugin);
    }
    if (name === 'llm-cost-quota' && pricesField) {
      cfg.prices = renderPrices(input.prices, pricesField);
      addTag(plugin);
    }
    plugin.config = cfg;
    const schema = input.schemas.get(name);
    if (!schema) {
      errors.push(`${where} (${name}): the plugin's schema is not available, its config cannot be checked`);
      continue;
    }
    const res = validateKongConfig(schema, cfg);
    if (!res.ok) for (const line of flattenFieldErrors(res.errors)) errors.push(`${where} (${name}).config.${line}`);
  }
  if (authCount === 0) warnings.push('no llm-auth plugin in the base config: tiers and tenants were not rendered anywhere');

  // Cross-checks Kong cannot do: every tenant names a tier that exists.
  const tierNames = new Set(input.tiers.map((t) => t.name));
  for (const t of input.tenants) if (!tierNames.has(t.tier)) errors.push(`tenant ${t.id}: unknown tier ${t.tier}`);
  return { config, errors, warnings };
}
