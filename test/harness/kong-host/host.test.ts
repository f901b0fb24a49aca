/**
 * The Kong-protocol host behaves like Kong 3.9 with external plugins: priority order, exits,
 * ctx.shared across plugin servers, Kong's fail-open semantics (and the sentinel that closes
 * them), instance restarts, schema validation, config swaps. Plugins run in real
 * kong-js-pluginserver processes (built by `npm run build`, the pretest step).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startKongHost, type DeclarativeConfig, type KongHost } from './index';

const SENTINEL = `return function()
  if not kong.ctx.shared["llm.identity"] then
    return kong.response.exit(503, { error = { message = "The gateway cannot process this request right now.", type = "service_unavailable", code = "gateway_unavailable" } })
  end
end`;

let upstream: Server;
let upstreamUrl: string;
const seen: Array<{ path: string; headers: Record<string, unknown>; body: string }> = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const delay = Number(req.headers['x-delay-ms'] ?? 0);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, path: req.url }));
      }, delay);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

function service(routes: unknown[], plugins: unknown[] = []): DeclarativeConfig {
  return { _format_version: '3.0', services: [{ name: 'llm', url: `${upstreamUrl}/v1`, read_timeout: 5000, routes, plugins }] };
}

describe('request path', () => {
  let host: KongHost;
  beforeAll(async () => {
    host = await startKongHost({
      config: service([
        // configured out of order on purpose: Kong runs by priority (a 3000 before b 2500)
        { name: 'order', paths: ['/order'], plugins: [{ name: 'fixture-order-b' }, { name: 'fixture-echo-ctx' }, { name: 'fixture-order-a' }] },
        { name: 'exit', paths: ['/exit'], plugins: [{ name: 'fixture-order-a' }, { name: 'fixture-exit', config: { always: true, status: 429 } }, { name: 'fixture-order-b' }] },
        { name: 'plain', paths: ['/plain'] },
        { name: 'pdk', paths: ['/pdk'], plugins: [{ name: 'fixture-pdk', config: { calls: 5 } }] },
      ]),
    });
  });
  afterAll(() => host.stop());

  it('proxies to the service with the route prefix stripped', async () => {
    const r = await fetch(`${host.proxyUrl}/plain/chat/completions?x=1`, { method: 'POST', body: '{"m":1}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    expect((await r.json()) as any).toEqual({ ok: true, path: '/v1/chat/completions?x=1' });
    expect(r.headers.get('via')).toMatch(/kong/);
  });

  it('runs plugins in priority order and ctx.shared crosses plugin servers', async () => {
    const r = await fetch(`${host.proxyUrl}/order/x`);
    expect(r.status).toBe(200);
    // a (3000) and b (2500) are separate plugin-server processes; echo-ctx (100) reads their ctx value
    expect(r.headers.get('x-ctx-fixture-order')).toBe('ab');
  });

  it('an exit short-circuits later plugins and the upstream', async () => {
    const before = seen.length;
    const r = await fetch(`${host.proxyUrl}/exit/x`);
    expect(r.status).toBe(429);
    expect(((await r.json()) as any).error.code).toBe('fixture_exit');
    expect(seen.length).toBe(before);
    const trace = host.traces.find((t) => t.path === '/exit/x')!;
    expect(trace.source).toBe('exit');
    // order-a ran (get + set), exit ran (one call), order-b never ran
    expect(trace.pdkCalls.map((c) => c.plugin)).not.toContain('fixture-order-b');
  });

  it('answers 404 when no route matches', async () => {
    const r = await fetch(`${host.proxyUrl}/nowhere`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).message).toMatch(/no Route matched/);
  });

  it('records every PDK call of a request', async () => {
    await fetch(`${host.proxyUrl}/pdk/x`);
    const trace = host.traces.find((t) => t.path === '/pdk/x')!;
    expect(trace.pdkCalls.filter((c) => c.plugin === 'fixture-pdk' && c.method === 'kong.request.get_header')).toHaveLength(5);
  });
});

describe("Kong's failure semantics", () => {
  let host: KongHost;
  beforeAll(async () => {
    host = await startKongHost({
      config: service([
        { name: 'throws', paths: ['/throws'], plugins: [{ name: 'fixture-throw', config: { phases: ['access', 'log'] } }] },
        { name: 'dead', paths: ['/dead'], plugins: [{ name: 'fixture-identity', config: { identity: '{"v":1}' } }] },
        {
          name: 'guarded',
          paths: ['/guarded'],
          plugins: [
            { name: 'fixture-identity', config: { identity: '{"v":1}' } },
            { name: 'post-function', config: { access: [SENTINEL] } },
          ],
        },
        { name: 'wrong-phase', paths: ['/wrong-phase'], plugins: [{ name: 'fixture-pdk', config: { calls: 0, misuse: 'wrong_phase' } }] },
        { name: 'unknown', paths: ['/unknown-method'], plugins: [{ name: 'fixture-pdk', config: { calls: 0, misuse: 'unknown_method' } }, { name: 'fixture-order-a' }] },
        { name: 'ctor', paths: ['/ctor'], plugins: [{ name: 'fixture-throw', config: { in_constructor: true } }] },
        { name: 'body-nocap', paths: ['/body-nocap'], plugins: [{ name: 'fixture-body' }] },
        { name: 'body-cap', paths: ['/body-cap'], plugins: [{ name: 'fixture-body', config: { cap: 1048576 } }] },
      ]),
    });
  });
  afterAll(() => host.stop());

  it('a handler that throws is logged and the request goes on (as in Kong)', async () => {
    const r = await fetch(`${host.proxyUrl}/throws/x`);
    expect(r.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(host.serverOutput('fixture-throw').some((l) => l.includes('fixture-throw in access'))).toBe(true);
  });

  it('a plugin that calls the PDK in the wrong phase turns the request into a 500', async () => {
    const r = await fetch(`${host.proxyUrl}/wrong-phase/x`);
    expect(r.status).toBe(500);
  });

  it('a PDK method Kong does not have is a 500 too', async () => {
    const r = await fetch(`${host.proxyUrl}/unknown-method/x`);
    expect(r.status).toBe(500);
  });

  it('a plugin whose constructor throws gives a 500', async () => {
    const r = await fetch(`${host.proxyUrl}/ctor/x`);
    expect(r.status).toBe(500);
  });

  it('get_raw_body without a cap on a body past the buffer size is a 500; with a cap it is read', async () => {
    const big = 'x'.repeat(20_000); // > 8 KiB client_body_buffer_size
    const small = await fetch(`${host.proxyUrl}/body-nocap/x`, { method: 'POST', body: 'hello' });
    expect(small.headers.get('x-body-bytes')).toBe('5');
    const nocap = await fetch(`${host.proxyUrl}/body-nocap/x`, { method: 'POST', body: big });
    expect(nocap.status).toBe(500);
    const capped = await fetch(`${host.proxyUrl}/body-cap/x`, { method: 'POST', body: big });
    expect(capped.status).toBe(200);
    expect(capped.headers.get('x-body-bytes')).toBe('20000');
  });

  it('a killed plugin server lets requests through; the post-function sentinel turns that into 503', async () => {
    expect((await fetch(`${host.proxyUrl}/guarded/x`)).status).toBe(200);
    await host.killPluginServer('fixture-identity');
    const open = await fetch(`${host.proxyUrl}/dead/x`);
    expect(open.status).toBe(200); // Kong OSS fails open
    const closed = await fetch(`${host.proxyUrl}/guarded/x`);
    expect(closed.status).toBe(503);
    expect(((await closed.json()) as any).error.code).toBe('gateway_unavailable');
    expect(host.logs.some((l) => l.level === 'err' && l.plugin === 'fixture-identity')).toBe(true);
  });
});

describe('instances and configuration', () => {
  it('starts an instance again after "no plugin instance" and retries the event', async () => {
    const host = await startKongHost({ config: service([{ name: 'r', paths: ['/r'], plugins: [{ name: 'fixture-order-a' }, { name: 'fixture-echo-ctx' }] }]) });
    try {
      expect((await fetch(`${host.proxyUrl}/r/x`)).headers.get('x-ctx-fixture-order')).toBe('a');
      await host.forgetInstances('fixture-order-a');
      const r = await fetch(`${host.proxyUrl}/r/x`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ctx-fixture-order')).toBe('a');
      expect(host.logs.some((l) => l.level === 'warn' && /no plugin instance/.test(l.message))).toBe(true);
    } finally {
      await host.stop();
    }
  });

  it('resolves {vault://env/...} references in referenceable fields before StartInstance', async () => {
    const host = await startKongHost({
      env: { LLG_TEST_SECRET: 's3cret' },
      config: service([{ name: 'v', paths: ['/v'], plugins: [{ name: 'fixture-echo-ctx', config: { static_header: '{vault://env/llg-test-secret}' } }] }]),
    });
    try {
      const r = await fetch(`${host.proxyUrl}/v/x`);
      expect(r.headers.get('x-static')).toBe('s3cret');
    } finally {
      await host.stop();
    }
  });

  it('refuses plugin config that does not match the reported schema, with field errors', async () => {
    await expect(
      startKongHost({ config: service([{ name: 'bad', paths: ['/bad'], plugins: [{ name: 'fixture-exit', config: { status: 99, nope: true } }] }]) }),
    ).rejects.toThrow(/config\.status: value should be between 100 and 599.*config\.nope: unknown field|config\.nope: unknown field.*config\.status/);
    await expect(startKongHost({ config: service([{ name: 'p', paths: ['/p'], plugins: [{ name: 'no-such-plugin' }] }]) })).rejects.toThrow(/not enabled/);
    await expect(
      startKongHost({ config: service([{ name: 'l', paths: ['/l'], plugins: [{ name: 'post-function', config: { access: ['return function( end'] } }] }]) }),
    ).rejects.toThrow(/Error parsing post-function code/);
  });

  it('POST /config validates, swaps routes atomically and keeps in-flight requests', async () => {
    const host = await startKongHost({ config: service([{ name: 'old', paths: ['/old'] }]) });
    try {
      const inFlight = fetch(`${host.proxyUrl}/old/slow`, { headers: { 'x-delay-ms': '600' } });
      await new Promise((r) => setTimeout(r, 100));
      const bad = await fetch(`${host.adminUrl}/config?flatten_errors=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(service([{ name: 'new', paths: ['/new'], plugins: [{ name: 'fixture-exit', config: { status: 'x' } }] }])),
      });
      expect(bad.status).toBe(400);
      const badBody = (await bad.json()) as any;
      expect(badBody.name).toBe('invalid declarative configuration');
      expect(JSON.stringify(badBody.flattened_errors)).toMatch(/config\.status/);
      expect((await fetch(`${host.proxyUrl}/old/x`)).status).toBe(200); // unchanged after a refused push

      const newConfig = service([{ name: 'new', paths: ['/new'], plugins: [{ name: 'fixture-exit', config: { always: true, status: 418 } }] }]);
      const ok = await fetch(`${host.adminUrl}/config?check_hash=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(newConfig) });
      expect(ok.status).toBe(201);
      const again = await fetch(`${host.adminUrl}/config?check_hash=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(newConfig) });
      expect(again.status).toBe(304);

      expect((await inFlight).status).toBe(200);
      expect((await fetch(`${host.proxyUrl}/old/x`)).status).toBe(404);
      expect((await fetch(`${host.proxyUrl}/new/x`)).status).toBe(418);
      const status = (await (await fetch(`${host.adminUrl}/status`)).json()) as any;
      expect(typeof status.configuration_hash).toBe('string');
    } finally {
      await host.stop();
    }
  });
});
