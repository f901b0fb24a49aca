import { describe, expect, it } from 'vitest';
import { fieldsToJsonSchema, flattenFieldErrors, validateKongConfig, type KongField } from '../core/schema';
import { TENANT_FIELD, TIER_FIELD } from '../core/tenancy';
import { FIELDS, Schema } from './schema';

function walk(name: string, f: KongField, out: Array<[string, KongField]>): void {
  out.push([name, f]);
  if (f.elements) walk(`${name}[]`, f.elements, out);
  for (const e of f.fields ?? []) for (const [k, v] of Object.entries(e)) walk(`${name}.${k}`, v, out);
}

describe('llm-auth schema', () => {
  const all: Array<[string, KongField]> = [];
  for (const [k, v] of Object.entries(FIELDS)) if (k !== 'tiers' && k !== 'tenants') walk(k, v, all);

  it('embeds the shared tier and tenant fragments unchanged', () => {
    expect(FIELDS.tiers.elements).toBe(TIER_FIELD);
    expect(FIELDS.tenants.elements).toBe(TENANT_FIELD);
  });

  it('describes every field of its own (the configuration reference is generated from them)', () => {
    // Array elements are described by their array.
    const missing = all.filter(([n, f]) => !f.description && !n.endsWith('[]'));
    expect(all.length).toBeGreaterThan(60);
    expect(missing.map(([n]) => n)).toEqual([]);
  });

  it('every secret is referenceable', () => {
    const secrets = all.filter(([n]) => /(password|secret|hmac_key|upstream_auth\.value)$/.test(n));
    expect(secrets.map(([n]) => n).sort()).toEqual(['end_user_hmac_key', 'introspection.client_secret', 'jwt_issuers[].hs_secret', 'redis.password', 'upstream_auth.value']);
    for (const [, f] of secrets) expect(f.referenceable).toBe(true);
  });

  it('an empty config is valid with safe defaults; unknown fields and bad values are refused', () => {
    const r = validateKongConfig(Schema, {});
    expect(r.ok && r.value).toMatchObject({ methods: ['api_key'], redis_key_prefix: 'llg:', throttle: { enabled: true, max_failures: 10 }, events: { enabled: true } });
    const bad = validateKongConfig(Schema, { methods: ['magic'], nope: 1, jwt_issuers: [{ issuer: 'x', algorithms: ['none'] }], keys: [{ hash: 'short', tenant: 't' }] });
    expect(bad.ok).toBe(false);
    const lines = bad.ok ? [] : flattenFieldErrors(bad.errors);
    expect(lines.some((l) => l.startsWith('methods'))).toBe(true);
    expect(lines.some((l) => l.startsWith('nope'))).toBe(true);
    expect(lines.some((l) => l.startsWith('jwt_issuers[1].algorithms'))).toBe(true);
    expect(lines.some((l) => l.startsWith('keys[1].hash'))).toBe(true);
    expect(validateKongConfig(Schema, { upstream_auth: { value: '{vault://env/OPENAI_API_KEY}' } }).ok).toBe(true);
  });

  it('has a JSON Schema form', () => {
    const js = fieldsToJsonSchema(Schema) as { properties: Record<string, unknown> };
    expect(Object.keys(js.properties)).toEqual(Object.keys(FIELDS));
  });
});
