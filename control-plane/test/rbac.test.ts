/**
 * RBAC and tenant isolation (OWASP API1) for EVERY route of the OpenAPI document:
 *  - no token → 401; a role below the route's permission → 403;
 *  - a tenant-scoped token (role admin, tenant A) aimed at tenant B's objects or at global
 *    operations → 403/404, nothing of B in the answer, and no change in the database;
 *  - lists answer a scoped token with its own tenant's objects only;
 *  - the unscoped admin gets through on the same requests (so the refusals are not 400s).
 * The test fails when a route is added without an entry in the table below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCp, type TestCp } from '../test-support/cp';

let cp: TestCp;
const tok: Record<string, string> = {};
const ids: Record<string, string> = {};
const PEM = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';

type Scoped = 'deny' | 'filtered' | 'shared';
interface Target {
  url: () => string;
  body?: () => unknown;
  scoped: Scoped;
  /** Run the positive admin check last (it changes fixtures). */
  destructive?: boolean;
}

const T: Record<string, Target> = {
  'get /healthz': { url: () => '/healthz', scoped: 'shared' },
  'get /metrics': { url: () => '/metrics', scoped: 'deny' },
  'get /v1/tiers': { url: () => '/v1/tiers', scoped: 'shared' },
  'get /v1/tiers/{name}': { url: () => '/v1/tiers/rb-tier', scoped: 'shared' },
  'post /v1/tiers': { url: () => '/v1/tiers', body: () => ({ name: `rb-new-${Math.random().toString(36).slice(2, 8)}` }), scoped: 'deny' },
  'patch /v1/tiers/{name}': { url: () => '/v1/tiers/rb-tier', body: () => ({ description: 'changed' }), scoped: 'deny' },
  'delete /v1/tiers/{name}': { url: () => '/v1/tiers/rb-tier2', scoped: 'deny', destructive: true },
  'get /v1/tenants': { url: () => '/v1/tenants', scoped: 'filtered' },
  'post /v1/tenants': { url: () => '/v1/tenants', body: () => ({ name: 'new', tier: 'strict' }), scoped: 'deny' },
  'get /v1/tenants/{id}': { url: () => '/v1/tenants/rb-b', scoped: 'deny' },
  'patch /v1/tenants/{id}': { url: () => '/v1/tenants/rb-b', body: () => ({ name: 'pwned' }), scoped: 'deny' },
  'delete /v1/tenants/{id}': { url: () => '/v1/tenants/rb-b2', scoped: 'deny', destructive: true },
  'get /v1/tenants/{tenantId}/keys': { url: () => '/v1/tenants/rb-b/keys', scoped: 'deny' },
  'post /v1/tenants/{tenantId}/keys': { url: () => '/v1/tenants/rb-b/keys', body: () => ({}), scoped: 'deny' },
  'get /v1/keys/{id}': { url: () => `/v1/keys/${ids.keyB}`, scoped: 'deny' },
  'patch /v1/keys/{id}': { url: () => `/v1/keys/${ids.keyB}`, body: () => ({ name: 'pwned' }), scoped: 'deny' },
  'post /v1/keys/{id}/rotate': { url: () => `/v1/keys/${ids.keyB2}/rotate`, body: () => ({}), scoped: 'deny', destructive: true },
  'post /v1/keys/{id}/revoke': { url: () => `/v1/keys/${ids.keyB}/revoke`, scoped: 'deny', destructive: true },
  'post /v1/keys/resync': { url: () => '/v1/keys/resync', scoped: 'deny' },
  'get /v1/jwt-issuers': { url: () => '/v1/jwt-issuers', scoped: 'filtered' },
  'post /v1/jwt-issuers': { url: () => '/v1/jwt-issuers', body: () => ({ tenant_id: 'rb-b', issuer: `https://x${Math.random()}`, algorithms: ['RS256'], jwks_url: 'https://idp.example/jwks' }), scoped: 'deny' },
  'get /v1/jwt-issuers/{id}': { url: () => `/v1/jwt-issuers/${ids.jwtB}`, scoped: 'deny' },
  'patch /v1/jwt-issuers/{id}': { url: () => `/v1/jwt-issuers/${ids.jwtB}`, body: () => ({ audiences: ['x'] }), scoped: 'deny' },
  'delete /v1/jwt-issuers/{id}': { url: () => `/v1/jwt-issuers/${ids.jwtB}`, scoped: 'deny', destructive: true },
  'get /v1/mtls-identities': { url: () => '/v1/mtls-identities', scoped: 'filtered' },
  'post /v1/mtls-identities': { url: () => '/v1/mtls-identities', body: () => ({ tenant_id: 'rb-b', subject: `CN=${Math.random()}` }), scoped: 'deny' },
  'get /v1/mtls-identities/{id}': { url: () => `/v1/mtls-identities/${ids.mtlsB}`, scoped: 'deny' },
  'patch /v1/mtls-identities/{id}': { url: () => `/v1/mtls-identities/${ids.mtlsB}`, body: () => ({ description: 'x' }), scoped: 'deny' },
  'delete /v1/mtls-identities/{id}': { url: () => `/v1/mtls-identities/${ids.mtlsB}`, scoped: 'deny', destructive: true },
  'get /v1/model-prices': { url: () => '/v1/model-prices', scoped: 'shared' },
  'post /v1/model-prices': { url: () => '/v1/model-prices', body: () => ({ model: `rb-${Math.random().toString(36).slice(2, 8)}`, input_per_m_usd: 1, output_per_m_usd: 2 }), scoped: 'deny' },
  'get /v1/model-prices/{model}': { url: () => '/v1/model-prices/rb-model', scoped: 'shared' },
  'patch /v1/model-prices/{model}': { url: () => '/v1/model-prices/rb-model', body: () => ({ input_per_m_usd: 9 }), scoped: 'deny' },
  'delete /v1/model-prices/{model}': { url: () => '/v1/model-prices/rb-model', scoped: 'deny', destructive: true },
  'get /v1/admin-tokens': { url: () => '/v1/admin-tokens', scoped: 'filtered' },
  'get /v1/admin-tokens/{id}': { url: () => `/v1/admin-tokens/${ids.tokB}`, scoped: 'deny' },
  'post /v1/admin-tokens': { url: () => '/v1/admin-tokens', body: () => ({ name: 'x', role: 'admin', tenant_id: 'rb-b' }), scoped: 'deny' },
  'delete /v1/admin-tokens/{id}': { url: () => `/v1/admin-tokens/${ids.tokB}`, scoped: 'deny', destructive: true },
  'get /v1/audit': { url: () => '/v1/audit?limit=200', scoped: 'filtered' },
  'get /v1/config': { url: () => '/v1/config', scoped: 'deny' },
  'post /v1/config/push': { url: () => '/v1/config/push', scoped: 'deny' },
  'post /v1/config/rollback/{version}': { url: () => '/v1/config/rollback/1', scoped: 'deny' },
  'get /v1/config/versions': { url: () => '/v1/config/versions', scoped: 'deny' },
  'get /v1/config/versions/{version}': { url: () => '/v1/config/versions/1', scoped: 'deny' },
  'get /v1/config/diff': { url: () => '/v1/config/diff', scoped: 'deny' },
  'get /v1/config/export': { url: () => '/v1/config/export', scoped: 'deny' },
};

interface Op {
  key: string;
  method: string;
  perm: string;
}
let ops: Op[] = [];

async function snapshot(): Promise<string> {
  const out: unknown[] = [];
  for (const t of ['tiers', 'tenants', 'api_keys', 'jwt_issuers', 'mtls_identities', 'model_prices', 'admin_tokens', 'config_versions'] as const) {
    const rows = (await cp.db.selectFrom(t).selectAll().execute()) as Array<Record<string, unknown>>;
    out.push(rows.map((r) => JSON.stringify({ ...r, last_used_at: undefined, pushed_at: undefined, push_status: undefined })).sort());
  }
  return JSON.stringify(out);
}

const bForeign = () => ['rb-b', ids.keyB, ids.keyB2, ids.jwtB, ids.mtlsB, ids.tokB];

beforeAll(async () => {
  cp = await startTestCp('postgres', 'rbac', {});
  const must = async (method: string, url: string, body?: unknown) => {
    const r = await cp.call(method, url, { body });
    if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${r.text}`);
    return r.body;
  };
  await must('POST', '/v1/tiers', { name: 'rb-tier' });
  await must('POST', '/v1/tiers', { name: 'rb-tier2' });
  for (const id of ['rb-a', 'rb-b', 'rb-b2']) await must('POST', '/v1/tenants', { id, name: id, tier: 'strict' });
  ids.keyA = (await must('POST', '/v1/tenants/rb-a/keys', {})).key.id;
  ids.keyB = (await must('POST', '/v1/tenants/rb-b/keys', {})).key.id;
  ids.keyB2 = (await must('POST', '/v1/tenants/rb-b/keys', {})).key.id;
  ids.jwtA = (await must('POST', '/v1/jwt-issuers', { tenant_id: 'rb-a', issuer: 'https://a.example', algorithms: ['ES256'], public_key_pem: PEM })).id;
  ids.jwtB = (await must('POST', '/v1/jwt-issuers', { tenant_id: 'rb-b', issuer: 'https://b.example', algorithms: ['RS256'], jwks_url: 'https://b.example/jwks' })).id;
  ids.mtlsB = (await must('POST', '/v1/mtls-identities', { tenant_id: 'rb-b', fingerprint_sha256: 'ab'.repeat(32) })).id;
  await must('POST', '/v1/model-prices', { model: 'rb-model', input_per_m_usd: 1, output_per_m_usd: 2 });
  ids.tokB = (await must('POST', '/v1/admin-tokens', { name: 'b-admin', role: 'admin', tenant_id: 'rb-b' })).token.id;
  await must('POST', '/v1/config/push');
  tok.admin = cp.adminToken;
  tok.operator = await cp.token('operator');
  tok.viewer = await cp.token('viewer');
  tok.scopedAdmin = await cp.token('admin', 'rb-a');
  const doc = (await cp.call('GET', '/openapi.json', { token: null })).body as { paths: Record<string, Record<string, { 'x-permission': string }>> };
  ops = Object.entries(doc.paths).flatMap(([p, m]) => Object.entries(m).map(([method, op]) => ({ key: `${method} ${p}`, method: method.toUpperCase(), perm: op['x-permission'] })));
}, 60_000);
afterAll(async () => cp?.close());

describe('RBAC and tenant isolation on every route', () => {
  it('every route of the OpenAPI document has an entry here, and every route declares a permission', () => {
    expect(ops.length).toBeGreaterThan(40);
    expect(ops.map((o) => o.key).sort()).toEqual(Object.keys(T).sort());
    for (const o of ops) expect(['public', 'read', 'write', 'admin'], o.key).toContain(o.perm);
  });

  it('no token → 401 and a bad token → 401 (public routes excepted)', async () => {
    for (const o of ops) {
      const t = T[o.key]!;
      if (o.perm === 'public') continue;
      for (const token of [null, 'lgadm_notarealtoken0000000000000000000000']) {
        const r = await cp.call(o.method, t.url(), { token, body: t.body?.() });
        expect(r.status, `${o.key} token=${token}`).toBe(401);
        expect(r.body.error.code).toBe('unauthorized');
      }
    }
  });

  it('a role below the route permission → 403, and nothing changes', async () => {
    const before = await snapshot();
    for (const o of ops) {
      const t = T[o.key]!;
      const lower = o.perm === 'write' ? ['viewer'] : o.perm === 'admin' ? ['viewer', 'operator'] : [];
      for (const role of lower) {
        const r = await cp.call(o.method, t.url(), { token: tok[role], body: t.body?.() });
        expect(r.status, `${o.key} as ${role}: ${r.text}`).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it("a tenant-scoped admin never reads or changes another tenant's objects or global state", async () => {
    const before = await snapshot();
    for (const o of ops) {
      const t = T[o.key]!;
      const r = await cp.call(o.method, t.url(), { token: tok.scopedAdmin, body: t.body?.() });
      if (t.scoped === 'deny') {
        expect([403, 404], `${o.key}: ${r.status} ${r.text}`).toContain(r.status);
      } else {
        expect(r.status, `${o.key}: ${r.text}`).toBe(200);
      }
      if (t.scoped !== 'shared') for (const foreign of bForeign()) expect(r.text.includes(foreign), `${o.key} leaks ${foreign}`).toBe(false);
    }
    expect(await snapshot()).toBe(before);
    // Its own tenant stays reachable.
    expect((await cp.call('GET', '/v1/tenants/rb-a', { token: tok.scopedAdmin })).status).toBe(200);
    expect((await cp.call('GET', `/v1/keys/${ids.keyA}`, { token: tok.scopedAdmin })).status).toBe(200);
    const own = await cp.call('GET', '/v1/tenants', { token: tok.scopedAdmin });
    expect(own.body.data.map((x: { id: string }) => x.id)).toEqual(['rb-a']);
  });

  it('the unscoped admin passes on the same requests (refusals above were not input errors)', async () => {
    const ordered = [...ops].sort((a, b) => Number(!!T[a.key]!.destructive) - Number(!!T[b.key]!.destructive));
    for (const o of ordered) {
      const t = T[o.key]!;
      const r = await cp.call(o.method, t.url(), { body: t.body?.() });
      expect(r.status, `${o.key}: ${r.text}`).toBeLessThan(300);
    }
  });
});
