import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheUntil, introspect } from './introspection';
import { authConfig } from './testing/fixtures';

interface Seen {
  auth?: string;
  body: string;
}
const tokens = new Map<string, Record<string, unknown>>();
const seen: Seen[] = [];
let server: Server;
let url = '';
let mode: 'ok' | 'error' | 'hang' = 'ok';

function body(req: IncomingMessage): Promise<string> {
  return new Promise((r) => {
    let s = '';
    req.on('data', (d) => (s += d)).on('end', () => r(s));
  });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const b = await body(req);
    seen.push({ auth: req.headers.authorization, body: b });
    if (mode === 'hang') return;
    if (mode === 'error') return void res.writeHead(500).end();
    const token = new URLSearchParams(b).get('token') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(tokens.get(token) ?? { active: false }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function cfg(over: Record<string, unknown> = {}) {
  return authConfig({ methods: ['oauth_introspection'], introspection: { endpoint: url, client_id: 'gw', client_secret: 's3cret', timeout_ms: 3000, ...over } }).introspection;
}

describe('RFC 7662 introspection', () => {
  it('active token → claims; sends client credentials and the token as a form', async () => {
    mode = 'ok';
    tokens.set('opaque-1', { active: true, tenant_id: 'acme', scope: 'feature:chat_support', exp: Math.floor(Date.now() / 1000) + 600 });
    const out = await introspect(cfg({ cache_max_entries: 11 }), 'opaque-1', Date.now());
    expect(out).toMatchObject({ status: 'active', cached: false, claims: { tenant_id: 'acme' } });
    const last = seen.at(-1) as Seen;
    expect(last.auth).toBe(`Basic ${Buffer.from('gw:s3cret').toString('base64')}`);
    expect(new URLSearchParams(last.body).get('token')).toBe('opaque-1');
  });

  it('caches results (bounded, never past exp); inactive answers briefly', async () => {
    mode = 'ok';
    const c = cfg({ cache_max_entries: 12 });
    const exp = Math.floor(Date.now() / 1000) + 600;
    tokens.set('opaque-2', { active: true, tenant_id: 'acme', exp });
    const t0 = Date.now();
    expect((await introspect(c, 'opaque-2', t0)).status).toBe('active');
    const n = seen.length;
    expect(await introspect(c, 'opaque-2', t0 + 1000)).toMatchObject({ status: 'active', cached: true });
    expect(seen.length).toBe(n);
    expect(cacheUntil({ active: true, exp: 100 }, 0, { cache_ttl_seconds: 3600, negative_ttl_seconds: 5 })).toBe(100_000);
    expect(cacheUntil({ active: false }, 0, { cache_ttl_seconds: 3600, negative_ttl_seconds: 5 })).toBe(5_000);
    expect(await introspect(c, 'unknown-token', t0)).toEqual({ status: 'inactive', cached: false });
    expect(await introspect(c, 'unknown-token', t0 + 100)).toEqual({ status: 'inactive', cached: true });
    // An "active" answer for an expired token is still refused.
    tokens.set('opaque-3', { active: true, exp: Math.floor(Date.now() / 1000) - 10 });
    expect((await introspect(c, 'opaque-3', Date.now())).status).toBe('inactive');
  });

  it('endpoint errors, timeouts and a dead endpoint → unavailable, never active', async () => {
    tokens.set('opaque-4', { active: true, tenant_id: 'acme' });
    mode = 'error';
    expect(await introspect(cfg({ cache_max_entries: 13 }), 'opaque-4', Date.now())).toEqual({ status: 'unavailable' });
    mode = 'hang';
    expect(await introspect(cfg({ cache_max_entries: 14, timeout_ms: 300 }), 'opaque-4', Date.now())).toEqual({ status: 'unavailable' });
    mode = 'ok';
    expect(await introspect(cfg({ cache_max_entries: 15, endpoint: 'http://127.0.0.1:1/introspect' }), 'opaque-4', Date.now())).toEqual({ status: 'unavailable' });
  });
});
