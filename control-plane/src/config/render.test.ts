import { describe, expect, it } from 'vitest';
import { Schema as AUTH_SCHEMA } from '../../../plugins/llm-auth/schema';
import { Schema as QUOTA_SCHEMA } from '../../../plugins/llm-cost-quota/schema';
import { validateKongConfig } from '../../../plugins/core/schema';
import { generateApiKey } from '../../../plugins/core/keys';
import { SEED_PRICES, SEED_TIERS } from '../../../migrations/0002_seed_tiers_prices';
import { MANAGED_TAG, renderConfig, stripDeckKeys, type RenderInput } from './render';
import { readableKongErrors } from './push';
import { diffConfigs } from './diff';
import { loadPluginSchemas } from './plugin-schemas';

const schemas = new Map([
  ['llm-auth', AUTH_SCHEMA],
  ['llm-cost-quota', QUOTA_SCHEMA],
]);

const base = {
  _format_version: '3.0',
  _info: { select_tags: ['x'], defaults: {} },
  services: [
    {
      name: 'llm',
      url: 'http://up:8080',
      _ignore: ['x'],
      routes: [{ name: 'v1', paths: ['/v1'], plugins: [{ name: 'llm-auth', config: { methods: ['api_key'] } }, { name: 'llm-cost-quota', config: {} }] }],
    },
  ],
  plugins: [{ name: 'correlation-id', config: { header_name: 'x-request-id' } }],
};

const tiers = SEED_TIERS.map((t) => ({ name: t.name, limits: t.limits, budgets: t.budgets, input: t.input, models: t.models, features: t.features })) as RenderInput['tiers'];
const tenants = [
  { id: 'acme', tier: 'balanced', timezone: 'Europe/Paris', disabled: false, limits: { requests_per_minute: 50 }, budgets: { tenant_daily_usd: 3 }, input: {}, consumers: ['acme-consumer'] },
  { id: 'beta', tier: 'strict', models: ['gpt-4o-mini'], features: ['chat_support'] },
] as RenderInput['tenants'];
const prices = SEED_PRICES.map((p) => ({ ...p, cached_input_per_m_usd: p.cached_input_per_m_usd ?? null }));

describe('renderConfig', () => {
  it('strips decK-only keys at every level but keeps _format_version and _transform', () => {
    const out = stripDeckKeys({ _format_version: '3.0', _transform: true, _info: {}, services: [{ name: 's', _ignore: [1], routes: [{ _comment: 'x', name: 'r' }] }] });
    expect(out).toEqual({ _format_version: '3.0', _transform: true, services: [{ name: 's', routes: [{ name: 'r' }] }] });
  });

  it('fills llm-auth tiers/tenants and llm-cost-quota prices, tags them, and the real plugin schemas accept the result', () => {
    const k = generateApiKey();
    const r = renderConfig({
      base,
      tiers,
      tenants,
      prices,
      jwtIssuers: [{ id: 'j1', tenant_id: 'acme', issuer: 'https://idp', audiences: ['llm'], algorithms: ['RS256'], jwks_url: 'https://idp/jwks', public_key_pem: null, claims: { end_user: 'sub' } }],
      mtlsIdentities: [{ id: 'm1', tenant_id: 'beta', fingerprint_sha256: 'ab'.repeat(32), subject: null }],
      staticKeys: [{ id: 'k1', tenant_id: 'acme', lineage_id: 'k1', prefix: k.prefix, hash: k.hash, scopes: { models: ['gpt-4o'] }, expires_at: new Date(Date.now() + 60_000) }],
      redisKeyPrefix: 'llg:',
      schemas,
    });
    expect(r.errors).toEqual([]);
    expect(r.config._info).toBeUndefined();
    const svc = (r.config.services as Array<Record<string, any>>)[0]!; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(svc._ignore).toBeUndefined();
    const [auth, quota] = svc.routes[0].plugins;
    expect(auth.tags).toContain(MANAGED_TAG);
    expect(auth.config.methods).toEqual(['api_key']); // the platform's settings are kept
    expect(auth.config.tiers.map((t: { name: string }) => t.name)).toEqual(['strict', 'balanced', 'permissive']);
    expect(auth.config.tenants[0]).toMatchObject({ id: 'acme', tier: 'balanced', timezone: 'Europe/Paris', limits: { requests_per_minute: 50 } });
    expect(auth.config.jwt_issuers[0]).toEqual({ issuer: 'https://idp', audiences: ['llm'], algorithms: ['RS256'], jwks_uri: 'https://idp/jwks', default_tenant: 'acme', claims: { end_user: 'sub' } });
    expect(auth.config.mtls.identities).toEqual([{ fingerprint_sha256: 'ab'.repeat(32), tenant: 'beta' }]);
    expect(auth.config.keys[0]).toMatchObject({ hash: k.hash, tenant: 'acme', key_id: 'k1', models: ['gpt-4o'] });
    expect(JSON.stringify(r.config)).not.toContain(k.key);
    expect(quota.config.prices['gpt-4o']).toEqual({ input_per_1m: 2.5, output_per_1m: 10, cached_input_per_1m: 1.25 });
    expect(quota.config.aliases['gpt-4o-2024-08-06']).toBe('gpt-4o');
    expect(validateKongConfig(AUTH_SCHEMA, auth.config).ok).toBe(true);
    expect(validateKongConfig(QUOTA_SCHEMA, quota.config).ok).toBe(true);
    // Non-llm plugins are passed through untouched.
    expect((r.config.plugins as unknown[])[0]).toEqual({ name: 'correlation-id', config: { header_name: 'x-request-id' } });
  });

  it('names the plugin and the field when a config is invalid, and refuses unknown tiers and missing schemas', () => {
    const bad = structuredClone(base);
    (bad.services[0]!.routes[0]!.plugins[0]!.config as Record<string, unknown>).bogus = 1;
    (bad.services[0]!.routes[0]!.plugins as unknown[]).push({ name: 'llm-output-redact', config: {} });
    const r = renderConfig({ base: bad, tiers, tenants: [...tenants, { id: 'lost', tier: 'gold' }] as RenderInput['tenants'], prices, schemas });
    expect(r.errors).toContain('services(llm).routes(v1).plugins[1] (llm-auth).config.bogus: unknown field');
    expect(r.errors.some((e) => e.includes('llm-output-redact') && e.includes('schema is not available'))).toBe(true);
    expect(r.errors).toContain('tenant lost: unknown tier gold');
  });

  it('with llg-managed tags in the base, renders only the tagged plugins', () => {
    const tagged = structuredClone(base);
    const route = tagged.services[0]!.routes[0]! as { plugins: Array<Record<string, unknown>> };
    route.plugins[0]!.tags = ['kong-llm-guard', MANAGED_TAG];
    route.plugins.push({ name: 'llm-auth', config: { methods: ['api_key'], tenants: [] } });
    const r = renderConfig({ base: tagged, tiers, tenants, prices, schemas });
    expect(r.errors).toEqual([]);
    const plugins = (r.config.services as Array<{ routes: Array<{ plugins: Array<{ config: { tenants?: unknown[] }; tags?: string[] }> }> }>)[0]!.routes[0]!.plugins;
    expect(plugins[0]!.config.tenants).toHaveLength(2);
    expect(plugins[0]!.tags).toEqual(['kong-llm-guard', MANAGED_TAG]);
    expect(plugins[2]!.config.tenants).toEqual([]); // untagged: the platform's own
    expect(plugins[1]!.config).toEqual({}); // untagged llm-cost-quota left alone
  });

  it('renders the repository kong/kong.yml without errors', async () => {
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const all = await loadPluginSchemas();
    const r = renderConfig({ base: parse(readFileSync('kong/kong.yml', 'utf8')), tiers, tenants, prices, schemas: all });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(JSON.stringify(r.config)).toContain('"id":"acme"');
  });

  it('warns when the base has no llm-auth plugin', () => {
    const r = renderConfig({ base: { _format_version: '3.0' }, tiers, tenants, prices, schemas });
    expect(r.warnings[0]).toMatch(/no llm-auth/);
  });

  it('loads the schemas of the plugins present in the tree', async () => {
    const loaded = await loadPluginSchemas();
    expect(loaded.get('llm-auth')).toBe(AUTH_SCHEMA);
  });
});

describe('readableKongErrors', () => {
  it('reads flatten_errors output', () => {
    const lines = readableKongErrors({
      message: 'declarative config is invalid',
      flattened_errors: [{ entity_type: 'plugin', entity_name: 'llm-auth', entity_id: 'abc', errors: [{ type: 'field', field: 'config.tenants.3.tier', message: 'required field missing' }] }],
    });
    expect(lines).toEqual(['plugin llm-auth (abc): config.tenants.3.tier: required field missing']);
  });
  it('reads nested field errors and falls back to the message', () => {
    expect(readableKongErrors({ fields: { plugins: [{ config: { tenants: [{ tier: 'required field missing' }] } }] } })).toEqual(['plugins[1].config.tenants[1].tier: required field missing']);
    expect(readableKongErrors({ message: 'nope' })).toEqual(['nope']);
    expect(readableKongErrors('garbage')).toEqual(['Kong refused the configuration']);
  });
});

describe('diffConfigs', () => {
  it('matches list items by id/name so a tenant change has a readable path', () => {
    const a = { plugins: [{ name: 'llm-auth', config: { tenants: [{ id: 'a', limits: { rpm: 1 } }, { id: 'b' }] } }] };
    const b = { plugins: [{ name: 'llm-auth', config: { tenants: [{ id: 'a', limits: { rpm: 2 } }, { id: 'c' }] } }] };
    expect(diffConfigs(a, b)).toEqual([
      { path: 'plugins[name=llm-auth].config.tenants[id=a].limits.rpm', op: 'change', before: 1, after: 2 },
      { path: 'plugins[name=llm-auth].config.tenants[id=b]', op: 'remove', before: { id: 'b' } },
      { path: 'plugins[name=llm-auth].config.tenants[id=c]', op: 'add', after: { id: 'c' } },
    ]);
  });
});
