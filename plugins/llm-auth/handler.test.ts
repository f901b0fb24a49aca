/**
 * The handler with an in-memory PDK double: PDK calls per request, fail-closed behaviour, the
 * upstream credential swap, and no secret in logs. (Through the real plugin server: test/e2e/auth*.)
 */
import { describe, expect, it, vi } from 'vitest';
import { generateApiKey } from '../core/keys';
import { decodeCtx } from '../core/context';
import { Plugin } from './handler';
import { Authenticator } from './authenticate';
import { fakeKong } from './testing/fake-kong';
import { TENANTS, TIERS } from './testing/fixtures';

const key = generateApiKey();
const PROVIDER = 'Bearer sk-provider-CANARY-7f3a9';
const base = {
  tiers: TIERS,
  tenants: TENANTS,
  keys: [{ hash: key.hash, tenant: 'acme', key_id: 'key_1', lineage_id: 'lin_1', prefix: key.prefix }],
  upstream_auth: { value: PROVIDER },
};

describe('llm-auth handler (PDK double)', () => {
  it('valid static key: identity set, provider credential upstream, 3 PDK calls without throttling, 4 with', async () => {
    for (const [throttle, expected] of [
      [{ enabled: false }, ['request.getHeaders', 'ctx.shared.set', 'service.request.setHeaders']],
      [{ enabled: true }, ['request.getHeaders', 'client.getForwardedIp', 'ctx.shared.set', 'service.request.setHeaders']],
    ] as const) {
      const p = new Plugin({ ...base, throttle, route_id: 'r1', __seq__: 3, $refs: {} });
      const f = fakeKong({ headers: { authorization: [`Bearer ${key.key}`], 'x-llm-feature': ['code_review'] } });
      await p.access(f.kong);
      expect(f.exit).toBeUndefined();
      expect(f.calls).toEqual(expected);
      expect(f.upstream.authorization).toBe(PROVIDER);
      expect(f.upstream['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const id = decodeCtx('llm.identity', f.ctx.get('llm.identity'));
      expect(id).toMatchObject({ tenant_id: 'acme', tier: 'pro', method: 'static_key', key_id: 'key_1', lineage_id: 'lin_1', key_prefix: key.prefix, feature: 'code_review' });
    }
  });

  it('refusal: 4 PDK calls at most (headers, ip, decision, exit), OpenAI body, WWW-Authenticate', async () => {
    const p = new Plugin({ ...base, throttle: { enabled: true, max_failures: 100 } });
    const f = fakeKong({ headers: { authorization: ['Bearer lg_live_1111111111111111111111111111111111111111'] } });
    await p.access(f.kong);
    expect(f.calls).toEqual(['request.getHeaders', 'client.getForwardedIp', 'ctx.shared.set', 'response.exit']);
    expect(f.exit?.status).toBe(401);
    expect(f.exit?.headers?.['www-authenticate']).toContain('invalid_token');
    expect(JSON.parse(f.exit?.body ?? '{}')).toEqual({ error: { message: 'Invalid authentication credentials.', type: 'authentication_error', code: 'invalid_credentials', param: null } });
  });

  it('a client credential in another header is removed in the same set_headers call', async () => {
    const p = new Plugin({ ...base, api_key_header: 'x-api-key', throttle: { enabled: false } });
    const f = fakeKong({ headers: { 'x-api-key': [key.key], 'x-request-id': ['req-123'] } });
    await p.access(f.kong);
    expect(f.upstream).toEqual({ 'x-api-key': '', authorization: PROVIDER });
    expect(decodeCtx('llm.identity', f.ctx.get('llm.identity'))?.client_request_id).toBe('req-123');
  });

  it('a broken configuration refuses every request with 503 (constructor never throws)', async () => {
    const broken = [
      { ...base, methods: ['mtls'], mtls: { ca_certificates: ['not a certificate'] } },
      { ...base, methods: ['jwt'], jwt_issuers: [{ issuer: 'x', algorithms: ['RS256'], public_key: 'garbage' }] },
      { ...base, methods: ['jwt'], jwt_issuers: [{ issuer: 'x', algorithms: ['RS256'] }] },
      { ...base, methods: ['teleport'] },
      'not even an object',
    ];
    for (const cfg of broken) {
      const p = new Plugin(cfg);
      const f = fakeKong({ headers: { authorization: [`Bearer ${key.key}`] } });
      await p.access(f.kong);
      expect(f.exit?.status).toBe(503);
      expect(f.ctx.has('llm.identity')).toBe(false);
    }
  });

  it('a crashing verifier or a failing PDK call never lets a request through', async () => {
    const p = new Plugin({ ...base, throttle: { enabled: false } });
    const spy = vi.spyOn(Authenticator.prototype, 'authenticate').mockRejectedValueOnce(new TypeError('boom with lg_live_secret'));
    const f = fakeKong({ headers: { authorization: [`Bearer ${key.key}`] } });
    await p.access(f.kong);
    expect(f.exit?.status).toBe(503);
    expect(f.ctx.has('llm.identity')).toBe(false);
    expect(f.logs.join('\n')).not.toContain('lg_live_secret');
    spy.mockRestore();

    const g = fakeKong({ headers: { authorization: [`Bearer ${key.key}`] } });
    g.kong.service.request.setHeaders = () => Promise.reject(new Error('pdk'));
    await p.access(g.kong);
    expect(g.exit?.status).toBe(503);
  });

  it('log phase: one metadata line, never the key or the provider credential', async () => {
    const p = new Plugin({ ...base, throttle: { enabled: false } });
    const f = fakeKong({ headers: { authorization: [`Bearer ${key.key}`] } });
    await p.access(f.kong);
    f.calls.length = 0;
    await p.log(f.kong);
    expect(f.calls).toEqual(['ctx.shared.get', 'log.notice']);
    expect(f.logs).toHaveLength(1);
    expect(f.logs[0]).toMatch(/outcome=allowed method=static_key tenant_id=acme/);
    expect(f.logs[0]).not.toContain(key.key);
    expect(f.logs[0]).not.toContain('CANARY');

    const d = fakeKong({ headers: { authorization: ['Bearer lg_live_2222222222222222222222222222222222222222'] } });
    await p.access(d.kong);
    await p.log(d.kong);
    expect(d.logs.at(-1)).toMatch(/outcome=denied method=api_key status=401 reason=unknown_key key_prefix=lg_live_2222/);
  });
});
