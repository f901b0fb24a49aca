/**
 * Loads a decK 3.0 declarative config the way Kong (DB-less) reads it: services (url or
 * protocol/host/port/path, timeouts), routes (nested or top-level with a service reference),
 * plugins (global, per service, per route; nested or top-level with references), consumers.
 * Structure and references are checked here; plugin configs are checked against the schema
 * each plugin server reports (see plugin-servers.ts), with Kong's rules (plugins/core/schema.ts).
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { DeclarativeConfig } from './api';
import { validateKongConfig, type FieldErrors, type KongField, type KongFieldEntry } from '../../../plugins/core/schema';

export interface ServiceDef {
  id: string;
  name?: string;
  url: URL;
  connect_timeout: number;
  read_timeout: number;
  write_timeout: number;
  tags: string[];
  raw: Record<string, unknown>;
}

export interface RouteDef {
  id: string;
  name?: string;
  service?: ServiceDef;
  paths: string[];
  methods?: string[];
  strip_path: boolean;
  preserve_host: boolean;
  tags: string[];
  raw: Record<string, unknown>;
}

export interface ConsumerDef {
  id: string;
  username?: string;
  custom_id?: string;
  tags: string[];
  keyauth_keys: string[];
}

export interface PluginDef {
  id: string;
  name: string;
  /** Validated config with defaults; null for fields without value (as Kong sends them). */
  config: Record<string, unknown>;
  routeId?: string;
  serviceId?: string;
  enabled: boolean;
  tags: string[];
}

export interface LoadedConfig {
  services: ServiceDef[];
  routes: RouteDef[];
  consumers: ConsumerDef[];
  plugins: PluginDef[];
  hash: string;
  source: DeclarativeConfig;
}

export interface PluginSchemaInfo {
  name: string;
  /** The fields of the plugin's `config` record; 'unchecked' for bundled plugins the host only accepts. */
  configFields: KongFieldEntry[] | 'unchecked';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly fields: FieldErrors,
    readonly flattened: Array<{ entity_type: string; entity_name?: string; errors: Array<{ field?: string; message: string; type: string }> }>,
  ) {
    super(message);
  }
}

/** A declarative config from a file path (YAML or JSON) or an already parsed object. */
export function readDeclarative(input: string | DeclarativeConfig): DeclarativeConfig {
  if (typeof input !== 'string') return input;
  return parseDeclarativeText(readFileSync(input, 'utf8'));
}

/** Parse declarative config text (YAML; JSON is YAML too). */
export function parseDeclarativeText(text: string): DeclarativeConfig {
  // JSON first, as Kong's own parser does: the YAML parser is ~20× slower on a large JSON body.
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = parseYaml(text);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('declarative config is not a map', { '@entity': 'expected a map' }, []);
  return parsed as DeclarativeConfig;
}

function stableId(kind: string, key: string): string {
  const h = createHash('sha256').update(`${kind}:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const SERVICE_KEYS = new Set(['id', 'name', 'url', 'protocol', 'host', 'port', 'path', 'retries', 'connect_timeout', 'read_timeout', 'write_timeout', 'tags', 'routes', 'plugins', 'enabled', 'tls_verify', 'ca_certificates', 'client_certificate', 'tls_verify_depth']);
const ROUTE_KEYS = new Set(['id', 'name', 'paths', 'methods', 'hosts', 'headers', 'protocols', 'strip_path', 'preserve_host', 'regex_priority', 'path_handling', 'https_redirect_status_code', 'request_buffering', 'response_buffering', 'tags', 'plugins', 'service', 'snis', 'sources', 'destinations']);
const PLUGIN_KEYS = new Set(['id', 'name', 'instance_name', 'config', 'enabled', 'protocols', 'tags', 'route', 'service', 'consumer', 'ordering']);
const TOP_KEYS = new Set(['_format_version', '_transform', '_info', '_workspace', '_konnect', 'services', 'routes', 'plugins', 'consumers', 'upstreams', 'certificates', 'ca_certificates', 'vaults']);

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : dflt;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Add `null` for every schema field that has no value, recursively in records (Kong's shape). */
export function withNulls(fields: KongFieldEntry[], value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const entry of fields) {
    const name = Object.keys(entry)[0] as string;
    const field = entry[name] as KongField;
    const v = out[name];
    if (v === undefined) out[name] = null;
    else if (field.type === 'record' && field.fields && typeof v === 'object' && v !== null && !Array.isArray(v)) out[name] = withNulls(field.fields, v as Record<string, unknown>);
    else if ((field.type === 'array' || field.type === 'set') && field.elements?.type === 'record' && Array.isArray(v))
      out[name] = v.map((item) => (typeof item === 'object' && item !== null ? withNulls(field.elements!.fields ?? [], item as Record<string, unknown>) : item));
  }
  return out;
}

/**
 * Parse and validate. `schemas` gives each known plugin's config fields; `bundled` validates
 * the bundled plugins the host emulates (pre-/post-function, key-auth) or accepts.
 */
export function loadConfig(
  source: DeclarativeConfig,
  schemas: ReadonlyMap<string, PluginSchemaInfo>,
  extraCheck?: (plugin: PluginDef) => string | undefined,
): LoadedConfig {
  const errors: FieldErrors = {};
  const flattened: ConfigError['flattened'] = [];
  const fail = (entityType: string, entityName: string | undefined, path: string, message: string) => {
    flattened.push({ entity_type: entityType, entity_name: entityName, errors: [{ field: path || undefined, message, type: path ? 'field' : 'entity' }] });
    errors[`${entityType}:${entityName ?? '?'}${path ? '.' + path : ''}`] = message;
  };

  if (source._format_version !== '3.0' && source._format_version !== '2.1') fail('config', undefined, '_format_version', `expected "3.0", got ${JSON.stringify(source._format_version)}`);
  for (const k of Object.keys(source)) if (!TOP_KEYS.has(k)) fail('config', undefined, k, 'unknown field');

  const services: ServiceDef[] = [];
  const routes: RouteDef[] = [];
  const plugins: PluginDef[] = [];
  const consumers: ConsumerDef[] = [];
  const rawPlugins: Array<{ raw: Record<string, unknown>; routeRef?: string; serviceRef?: string }> = [];

  const addRoute = (raw: Record<string, unknown>, service: ServiceDef | undefined) => {
    const name = typeof raw.name === 'string' ? raw.name : undefined;
    for (const k of Object.keys(raw)) if (!ROUTE_KEYS.has(k)) fail('route', name, k, 'unknown field');
    const paths = strList(raw.paths);
    if (paths.length === 0 && strList(raw.hosts).length === 0) fail('route', name, 'paths', 'must set one of: methods, hosts, headers, paths, snis');
    for (const p of paths) if (!p.startsWith('/') && !p.startsWith('~')) fail('route', name, 'paths', `should start with: / (fixed path) or ~/ (regex path)`);
    const methods = raw.methods === undefined ? undefined : strList(raw.methods).map((m) => m.toUpperCase());
    const id = typeof raw.id === 'string' ? raw.id : stableId('route', name ?? JSON.stringify(raw.paths));
    const route: RouteDef = {
      id,
      name,
      service,
      paths,
      methods,
      strip_path: raw.strip_path === undefined ? true : raw.strip_path === true,
      preserve_host: raw.preserve_host === true,
      tags: strList(raw.tags),
      raw,
    };
    routes.push(route);
    for (const p of Array.isArray(raw.plugins) ? raw.plugins : []) rawPlugins.push({ raw: p as Record<string, unknown>, routeRef: id });
  };

  for (const raw of (source.services ?? []) as Array<Record<string, unknown>>) {
    const name = typeof raw.name === 'string' ? raw.name : undefined;
    for (const k of Object.keys(raw)) if (!SERVICE_KEYS.has(k)) fail('service', name, k, 'unknown field');
    let url: URL | undefined;
    try {
      if (typeof raw.url === 'string') url = new URL(raw.url);
      else if (typeof raw.host === 'string') url = new URL(`${raw.protocol ?? 'http'}://${raw.host}:${raw.port ?? 80}${raw.path ?? ''}`);
    } catch {
      /* reported below */
    }
    if (!url) {
      fail('service', name, 'url', 'missing or invalid url / host');
      continue;
    }
    const service: ServiceDef = {
      id: typeof raw.id === 'string' ? raw.id : stableId('service', name ?? url.href),
      name,
      url,
      connect_timeout: num(raw.connect_timeout, 60_000),
      read_timeout: num(raw.read_timeout, 60_000),
      write_timeout: num(raw.write_timeout, 60_000),
      tags: strList(raw.tags),
      raw,
    };
    services.push(service);
    for (const r of Array.isArray(raw.routes) ? raw.routes : []) addRoute(r as Record<string, unknown>, service);
    for (const p of Array.isArray(raw.plugins) ? raw.plugins : []) rawPlugins.push({ raw: p as Record<string, unknown>, serviceRef: service.id });
  }

  const findService = (ref: unknown) => {
    const key = typeof ref === 'string' ? ref : typeof ref === 'object' && ref ? ((ref as Record<string, unknown>).name ?? (ref as Record<string, unknown>).id) : undefined;
    return services.find((s) => s.name === key || s.id === key);
  };
  for (const raw of (source.routes ?? []) as Array<Record<string, unknown>>) {
    const service = raw.service === undefined ? undefined : findService(raw.service);
    if (raw.service !== undefined && !service) fail('route', raw.name as string, 'service', `references an unknown service ${JSON.stringify(raw.service)}`);
    addRoute(raw, service);
  }

  for (const raw of (source.consumers ?? []) as Array<Record<string, unknown>>) {
    const username = typeof raw.username === 'string' ? raw.username : undefined;
    const custom_id = typeof raw.custom_id === 'string' ? raw.custom_id : undefined;
    if (!username && !custom_id) fail('consumer', undefined, '', 'at least one of these fields must be non-empty: custom_id, username');
    consumers.push({
      id: typeof raw.id === 'string' ? raw.id : stableId('consumer', username ?? custom_id ?? ''),
      username,
      custom_id,
      tags: strList(raw.tags),
      keyauth_keys: (Array.isArray(raw.keyauth_credentials) ? raw.keyauth_credentials : []).map((c) => String((c as Record<string, unknown>).key)),
    });
  }

  for (const raw of (source.plugins ?? []) as Array<Record<string, unknown>>) {
    const ref = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v ? ((v as Record<string, unknown>).name ?? (v as Record<string, unknown>).id) : undefined) as string | undefined;
    const routeKey = ref(raw.route);
    const serviceKey = ref(raw.service);
    const route = routeKey === undefined ? undefined : routes.find((r) => r.name === routeKey || r.id === routeKey);
    const service = serviceKey === undefined ? undefined : findService(serviceKey);
    if (routeKey !== undefined && !route) fail('plugin', raw.name as string, 'route', `references an unknown route ${JSON.stringify(routeKey)}`);
    if (serviceKey !== undefined && !service) fail('plugin', raw.name as string, 'service', `references an unknown service ${JSON.stringify(serviceKey)}`);
    rawPlugins.push({ raw, routeRef: route?.id, serviceRef: service?.id });
  }

  const seen = new Set<string>();
  for (const { raw, routeRef, serviceRef } of rawPlugins) {
    const name = typeof raw.name === 'string' ? raw.name : '';
    for (const k of Object.keys(raw)) if (!PLUGIN_KEYS.has(k)) fail('plugin', name, k, 'unknown field');
    if (raw.consumer !== undefined) fail('plugin', name, 'consumer', 'consumer-scoped plugins are not supported by the test host');
    const info = schemas.get(name);
    if (!info) {
      fail('plugin', name, 'name', `plugin '${name}' not enabled; add it to the 'plugins' configuration property`);
      continue;
    }
    const scopeKey = `${name}|${routeRef ?? ''}|${serviceRef ?? ''}`;
    if (seen.has(scopeKey)) fail('plugin', name, '', `uniqueness violation: plugin '${name}' configured twice for the same scope`);
    seen.add(scopeKey);
    if (info.configFields === 'unchecked') {
      plugins.push({ id: typeof raw.id === 'string' ? raw.id : stableId('plugin', scopeKey), name, config: (raw.config ?? {}) as Record<string, unknown>, routeId: routeRef, serviceId: serviceRef, enabled: raw.enabled !== false, tags: strList(raw.tags) });
      continue;
    }
    const fields = info.configFields;
    const result = validateKongConfig(fields, raw.config ?? {});
    if (!result.ok) {
      for (const [field, message] of Object.entries(result.errors)) {
        const msgs = flattenErr(message, `config.${field}`);
        for (const [path, m] of msgs) fail('plugin', name, path, m);
      }
      continue;
    }
    const plugin: PluginDef = {
      id: typeof raw.id === 'string' ? raw.id : stableId('plugin', scopeKey),
      name,
      config: withNulls(fields, result.value),
      routeId: routeRef,
      serviceId: serviceRef,
      enabled: raw.enabled !== false,
      tags: strList(raw.tags),
    };
    const extra = extraCheck?.(plugin);
    if (extra) fail('plugin', name, 'config', extra);
    plugins.push(plugin);
  }

  if (flattened.length > 0) {
    throw new ConfigError(`declarative config is invalid: ${flattened.map((f) => `${f.entity_type} ${f.entity_name ?? ''}: ${f.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ')}`).join(' | ')}`, errors, flattened);
  }
  const hash = createHash('md5').update(JSON.stringify(source)).digest('hex');
  return { services, routes, consumers, plugins, hash, source };
}

function flattenErr(e: unknown, path: string): Array<[string, string]> {
  if (typeof e === 'string') return [[path, e]];
  if (Array.isArray(e)) return e.flatMap((x, i) => (x === null || x === undefined ? [] : flattenErr(x, `${path}[${i + 1}]`)));
  if (e && typeof e === 'object') return Object.entries(e).flatMap(([k, v]) => flattenErr(v, k === '@entity' ? path : `${path}.${k}`));
  return [[path, String(e)]];
}

/** Route matching as Kong does for paths: regex paths (`~`) first, then the longest prefix. */
export function matchRoute(routes: RouteDef[], method: string, path: string): { route: RouteDef; matched: string } | undefined {
  let best: { route: RouteDef; matched: string } | undefined;
  for (const route of routes) {
    if (route.methods && !route.methods.includes(method)) continue;
    for (const p of route.paths) {
      if (p.startsWith('~')) {
        const m = new RegExp('^' + p.slice(1).replace(/^\^/, '')).exec(path);
        if (m) return { route, matched: m[0] };
      } else if (path.startsWith(p) && (!best || p.length > best.matched.length)) {
        best = { route, matched: p };
      }
    }
  }
  return best;
}

/** Plugins that apply to a route: for each name, the most specific (route > service > global). */
export function pluginsForRoute(config: LoadedConfig, route: RouteDef | undefined): PluginDef[] {
  const byName = new Map<string, PluginDef>();
  const rank = (p: PluginDef) => (p.routeId ? 3 : p.serviceId ? 2 : 1);
  for (const p of config.plugins) {
    if (!p.enabled) continue;
    if (p.routeId && p.routeId !== route?.id) continue;
    if (p.serviceId && p.serviceId !== route?.service?.id) continue;
    const prev = byName.get(p.name);
    if (!prev || rank(p) > rank(prev)) byName.set(p.name, p);
  }
  return [...byName.values()];
}
