/**
 * Fuzzing the admin API from its own OpenAPI document (fast-check): for every operation, random
 * path parameters, query strings and bodies (schema-shaped values with wrong types, unknown
 * fields, random JSON) must never produce a 5xx, and every error uses the envelope with a code
 * of the closed set.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors';
import { startTestCp, type TestCp } from '../test-support/cp';

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; enum?: unknown[]; anyOf?: Schema[]; required?: string[] };
interface Op {
  method: string;
  path: string;
  params: Array<{ name: string; in: string; schema: Schema }>;
  body?: Schema;
}

let cp: TestCp;
let ops: Op[] = [];

beforeAll(async () => {
  cp = await startTestCp('postgres', 'fuzz', {});
  await cp.call('POST', '/v1/tenants', { body: { id: 'fz', name: 'fz', tier: 'strict' } });
  const doc = (await cp.call('GET', '/openapi.json', { token: null })).body as {
    paths: Record<string, Record<string, { parameters: Op['params']; requestBody?: { content: { 'application/json': { schema: Schema } } } }>>;
  };
  ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, params: op.parameters ?? [], body: op.requestBody?.content['application/json'].schema })),
  );
}, 60_000);
afterAll(async () => cp?.close());

const weird = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '..', '../..', '%00', '\u0000', '💥', 'null', 'undefined', '-1', '0', '1', '99999999999999999999', "' OR 1=1 --", 'strict', 'fz', 'a'.repeat(300)),
);
const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(-1, 0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 'UTC', 'Mars/Base', '2001-01-01T00:00:00Z', '2999-01-01T00:00:00Z', 'gpt-4o', '*'),
);

/** Values shaped like the schema, with a good chance of the wrong type at every level. */
function shaped(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 3) return scalar;
  if (s.anyOf) return fc.oneof(...s.anyOf.map((x) => shaped(x, depth + 1)));
  if (s.enum) return fc.oneof(fc.constantFrom(...s.enum), scalar);
  const t = Array.isArray(s.type) ? s.type[0] : s.type;
  if (t === 'object') {
    const props = Object.entries(s.properties ?? {});
    const rec = fc.record(Object.fromEntries(props.map(([k, v]) => [k, shaped(v, depth + 1)])), { requiredKeys: [] });
    return fc.oneof(
      { weight: 4, arbitrary: rec },
      { weight: 1, arbitrary: fc.tuple(rec, fc.dictionary(fc.string({ maxLength: 10 }), scalar, { maxKeys: 2 })).map(([a, b]) => ({ ...b, ...a })) },
      { weight: 1, arbitrary: scalar },
    );
  }
  if (t === 'array') return fc.oneof(fc.array(shaped(s.items, depth + 1), { maxLength: 4 }), scalar);
  return scalar;
}

function expectEnvelope(status: number, body: any, what: string): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(status, what).toBeLessThan(500);
  if (status >= 400) {
    expect(ERROR_CODES, what).toContain(body?.error?.code);
    expect(typeof body?.error?.message, what).toBe('string');
    expect(typeof body?.error?.request_id, what).toBe('string');
  }
}

describe('fuzzing the API from /openapi.json', () => {
  it('covers the documented operations', () => {
    expect(ops.length).toBeGreaterThan(40);
  });

  it('random params, queries and bodies never give a 5xx; errors use the envelope', async () => {
    for (const op of ops) {
      const pathParams = op.params.filter((p) => p.in === 'path');
      const queryParams = op.params.filter((p) => p.in === 'query');
      await fc.assert(
        fc.asyncProperty(
          fc.tuple(...pathParams.map(() => weird)),
          fc.array(fc.tuple(fc.constantFrom(...(queryParams.length ? queryParams.map((q) => q.name) : ['x'])), weird), { maxLength: 3 }),
          op.body ? shaped(op.body) : fc.option(fc.jsonValue(), { nil: undefined }),
          async (pv, qv, body) => {
            let url = op.path;
            pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, encodeURIComponent(String(pv[i]) || 'x'))));
            if (qv.length) url += '?' + qv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
            const r = await cp.call(op.method, url, { body: body === undefined ? undefined : body });
            expectEnvelope(r.status, r.body, `${op.method} ${url} ${JSON.stringify(body)?.slice(0, 300)} → ${r.text.slice(0, 300)}`);
          },
        ),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 8), ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : { seed: 4242 }) },
      );
    }
  }, 120_000);

  it('malformed JSON, wrong content types and oversize bodies are client errors', async () => {
    const cases: Array<{ headers: Record<string, string>; rawBody: string; status: number[] }> = [
      { headers: { 'content-type': 'application/json' }, rawBody: '{"name": ', status: [400] },
      { headers: { 'content-type': 'application/json' }, rawBody: '', status: [400] },
      { headers: { 'content-type': 'text/plain' }, rawBody: 'name=x', status: [400, 415] },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: 'name=x', status: [400, 415] },
      { headers: { 'content-type': 'application/json' }, rawBody: '[' + '1,'.repeat(600_000) + '1]', status: [400, 413] },
      { headers: { 'content-type': 'application/json' }, rawBody: '"just a string"', status: [400] },
      { headers: { 'content-type': 'application/json' }, rawBody: '{"__proto__": {"admin": true}, "name": "p", "tier": "strict"}', status: [201, 400] },
    ];
    for (const c of cases) {
      const r = await cp.call('POST', '/v1/tenants', { headers: c.headers, rawBody: c.rawBody });
      expect(c.status, `${c.headers['content-type']} ${c.rawBody.slice(0, 40)} → ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status);
      expectEnvelope(r.status, r.body, c.rawBody.slice(0, 40));
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});
