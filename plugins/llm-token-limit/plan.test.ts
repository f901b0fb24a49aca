import { describe, expect, it } from 'vitest';
import { validateKongConfig } from '../core/schema';
import { decide, localStore, settle } from './limiter';
import { compileWeights, denialError, limitHeaders, openAiDuration, planRequest, reports, subjectFromConfig, subjectFromIdentity, type Subject } from './plan';
import { Schema, type TokenLimitConfig } from './schema';

function config(extra: Record<string, unknown> = {}): TokenLimitConfig {
  const r = validateKongConfig(Schema, extra);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value as unknown as TokenLimitConfig;
}

const subject = (o: Partial<Subject> = {}): Subject => ({
  source: 'request',
  request_id: 'req-1',
  tenant_id: 'acme',
  key_id: 'k1',
  lineage_id: 'lin1',
  timezone: 'UTC',
  limits: { requests_per_minute: 10, tokens_per_minute: 1000, concurrent_requests: 2 },
  budgets: {},
  model: 'gpt-4o-mini',
  input_tokens: 100,
  max_tokens: 200,
  n: 2,
  ...o,
});

describe('schema', () => {
  it('has safe defaults and refuses unknown values', () => {
    const c = config();
    expect(c).toMatchObject({ algorithm: 'sliding_window', scope: ['tenant'], mode: 'enforce', require_identity: true, policy: 'redis', fault_tolerant: true, redis_key_prefix: 'llg:' });
    expect(c.redis).toMatchObject({ connect_timeout_ms: 250, command_timeout_ms: 250 });
    expect(validateKongConfig(Schema, { algorithm: 'leaky' }).ok).toBe(false);
    expect(validateKongConfig(Schema, { scope: ['user'] }).ok).toBe(false);
    expect(validateKongConfig(Schema, { model_weights: { 'gpt-4*': 0 } }).ok).toBe(false);
  });
});

describe('planning', () => {
  it('keys share the tenant hash tag; scopes split the counters', () => {
    const p = planRequest(config(), subject(), compileWeights({}));
    expect(p.tenant.stateKey).toBe('llg:{acme}:rl:state');
    expect(p.tenant.slotKey).toBe('llg:{acme}:rl:cc');
    expect(p.tenant.recordKey).toBe('llg:{acme}:rl:res:req-1');
    expect(p.tenant.dims.map((d) => [d.name, d.kind, d.alg, d.periodMs])).toEqual([
      ['requests_per_minute', 'r', 'sw', 60_000],
      ['tokens_per_minute', 't', 'sw', 60_000],
      ['concurrent_requests', 'c', 'cc', 600_000],
    ]);
    expect(p.tenant.writeRecord).toBe(true);
    const scoped = planRequest(config({ scope: ['tenant', 'lineage', 'route', 'model'], redis_key_prefix: 'x:' }), subject(), compileWeights({}));
    expect(scoped.tenant.stateKey).toBe('x:{acme}:rl:k=lin1:r=-:m=gpt-4o-mini:state');
  });

  it('reserves input + max_tokens × n, times the model weight (exact name, then longest glob)', () => {
    const w = compileWeights({ 'gpt-4o*': 10, 'gpt-4o-mini*': 2, 'gpt-4o-mini': 3 });
    expect(w('gpt-4o-mini')).toBe(3);
    expect(w('gpt-4o-mini-2024')).toBe(2);
    expect(w('gpt-4o')).toBe(10);
    expect(w('other')).toBe(1);
    expect(planRequest(config(), subject(), compileWeights({})).tokens).toBe(500);
    expect(planRequest(config(), subject(), w).tokens).toBe(1500);
    expect(planRequest(config(), subject({ model: 'x' }), compileWeights({ x: 0.3333 })).tokens).toBe(167);
  });

  it('uses the identity with configured token defaults; standalone has no concurrency (nothing could free it)', () => {
    const c = config({ default_input_tokens: 50, default_max_tokens: 300, limits: { requests_per_minute: 5, concurrent_requests: 1 } });
    const id = subjectFromIdentity(
      { v: 1, request_id: 'r', tenant_id: 't', method: 'api_key', scopes: { models: [], features: [] }, timezone: 'UTC', limits: { tokens_per_day: 10 }, budgets: {}, input: {} },
      c,
    );
    expect(planRequest(c, id, compileWeights({})).tokens).toBe(350);
    const alone = planRequest(c, subjectFromConfig(c), compileWeights({}));
    expect(alone.tenant.dims.map((d) => d.name)).toEqual(['requests_per_minute']);
    expect(alone.tenant.writeRecord).toBe(false);
  });

  it('an unknown algorithm name in the identity falls back to the configured one', () => {
    const p = planRequest(config({ algorithm: 'gcra' }), subject({ limits: { requests_per_minute: 5, algorithm: 'leaky' as never } }), compileWeights({}));
    expect(p.tenant.dims[0]?.alg).toBe('gc');
  });

  it('global limits are a second call with their own hash tag; the tenant record is kept for a rollback', () => {
    const p = planRequest(config({ global_limits: { requests_per_second: 100 } }), subject({ limits: { requests_per_minute: 5 } }), compileWeights({}));
    expect(p.global?.stateKey).toBe('llg:{global}:rl:state');
    expect(p.global?.dims.map((d) => d.name)).toEqual(['requests_per_second']);
    expect(p.tenant.writeRecord).toBe(true);
  });
});

describe('answers', () => {
  it('formats reset durations like OpenAI', () => {
    expect(openAiDuration(20)).toBe('20ms');
    expect(openAiDuration(1000)).toBe('1s');
    expect(openAiDuration(360_000)).toBe('6m0s');
    expect(openAiDuration(3_723_000)).toBe('1h2m3s');
  });

  it('headers name the tightest request and token limits; a 429 names the dimension and says when to retry', () => {
    const p = planRequest(config(), subject(), compileWeights({}));
    const rep = reports(p.tenant, { allowed: true, duplicate: false, failIndex: -1, retryMs: 0, dims: [{ remaining: 9, resetMs: 90_000 }, { remaining: 500, resetMs: 61_000 }, { remaining: 1, resetMs: 0 }] });
    expect(limitHeaders(rep)).toEqual({
      'ratelimit-limit': '1000',
      'ratelimit-remaining': '500',
      'ratelimit-reset': '61',
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '9',
      'x-ratelimit-reset-requests': '1m30s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '500',
      'x-ratelimit-reset-tokens': '1m1s',
    });
    const denied = limitHeaders(rep, rep[1], 4_200);
    expect(denied).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '5', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '5s' });
    const err = denialError(rep[1]?.dim, 4_200, denied);
    expect(err.status).toBe(429);
    expect(err.body.error).toEqual({ message: 'Rate limit reached for tokens per minute. Please retry after 5 seconds.', type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null });
    expect(err.headers['retry-after']).toBe('5');
  });
});

describe('local policy', () => {
  it('decides and settles in process with the same rules', async () => {
    const c = config({ policy: 'local', algorithm: 'fixed_window' });
    const s = (id: string) => subject({ request_id: id, tenant_id: 'local-t', limits: { tokens_per_minute: 1000 } });
    const w = compileWeights({});
    const go = (id: string) => {
      const p = planRequest(c, s(id), w);
      return decide(c, {}, p.tenant, p.tokens, id);
    };
    expect((await go('a')).result.allowed).toBe(true); // 500
    expect((await go('b')).result.allowed).toBe(true); // 1000
    expect((await go('c')).result).toMatchObject({ allowed: false, dims: [{ remaining: 0 }] });
    expect(await settle(c, {}, planRequest(c, s('a'), w).tenant, 'a', 'refund', 0)).toBe(true);
    const again = await go('c');
    expect(again.result.allowed).toBe(true);
    expect(again.via).toBe('local');
    expect(localStore().size()).toBeGreaterThan(0);
  });
});
