/**
 * Starting the service: environment validation with clear messages, the bootstrap token (env or a
 * 0600 file written once), migrations on start, and no secret (admin token, API key) in any log line.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { createControlPlane } from '../src/server';
import { createTestDatabase } from '../test-support/pg';
import { startFakeKong } from '../test-support/fake-kong';
import { testSchemas } from '../test-support/cp';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('environment validation', () => {
  it('reports every problem at once, naming the variable, never echoing a URL', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://user:hunter2secret@db/x', REDIS_URL: '::nope::', ADMIN_TOKEN: 'short', ADMIN_IP_ALLOWLIST: '10.0.0.0/8, 999.1.1.1', LOG_LEVEL: 'loud', MIGRATE_ON_START: 'perhaps' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'ADMIN_IP_ALLOWLIST', 'LOG_LEVEL', 'MIGRATE_ON_START']) expect(msg).toContain(name);
    expect(msg).not.toContain('hunter2secret');
    expect(msg).toContain('999.1.1.1');
  });
  it('defaults are sane', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8001, host: '127.0.0.1', redisKeyPrefix: 'llg:', kongConfigPath: 'kong/kong.yml', migrateOnStart: true, ipAllowlist: [] });
    expect(c.databaseUrl).toBeUndefined();
    expect(loadConfig({ KONG_BASE_CONFIG: '/app/kong/kong.yml' }).kongConfigPath).toBe('/app/kong/kong.yml');
  });
});

describe('createControlPlane on Postgres', () => {
  it('migrates, writes the bootstrap token once to a 0600 file, and logs no secret', async () => {
    const tdb = await createTestDatabase('cp_start');
    cleanups.push(() => tdb.drop());
    const kong = await startFakeKong(await testSchemas());
    cleanups.push(() => kong.close());
    const dir = mkdtempSync(join(tmpdir(), 'cp-start-'));
    const tokenFile = join(dir, 'secrets', 'admin-token');
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const env = { DATABASE_URL: tdb.url, PORT: '0', KONG_ADMIN_URL: kong.url, ADMIN_TOKEN_FILE: tokenFile, KONG_CONFIG_PATH: join(dir, 'none.yml'), REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `llg:t:start:${Date.now()}:` };
    const cp = await createControlPlane(loadConfig(env), { logger: { level: 'trace', stream } });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await cp.stop();
    });
    expect(cp.bootstrap.source).toBe('file-created');
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^lgadm_/);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);

    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${cp.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    expect((await call('POST', '/v1/tenants', { id: 'logs', name: 'Logs', tier: 'strict' })).status).toBe(201);
    const key = (await (await call('POST', '/v1/tenants/logs/keys', {})).json()) as { secret: string };
    expect((await call('GET', '/v1/tenants/logs')).status).toBe(200);
    expect((await fetch(`${cp.url}/v1/tenants`, { headers: { authorization: 'Bearer lgadm_wrong-CANARY-token-000000' } })).status).toBe(401);
    await cp.delivery.flush();
    await cp.keySync.resync();
    await cp.stop();
    stopped = true;

    const all = lines.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).toContain(token.slice(0, 10)); // the display prefix is logged at start…
    expect(all).not.toContain(token); // …never the token
    expect(all).not.toContain(key.secret);
    expect(all).not.toContain('CANARY-token');
    expect(all).not.toMatch(/authorization/i);

    // Second start: the file is reused, not rewritten.
    const again = await createControlPlane(loadConfig(env), { logger: false });
    expect(again.bootstrap.source).toBe('file-existing');
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(token);
    await again.stop();
  });

  it('an IP allowlist refuses other addresses', async () => {
    const tdb = await createTestDatabase('cp_allow');
    cleanups.push(() => tdb.drop());
    const cp = await createControlPlane(loadConfig({ DATABASE_URL: tdb.url, PORT: '0', ADMIN_TOKEN: 'x'.repeat(32), ADMIN_IP_ALLOWLIST: '10.9.9.0/24' }), { logger: false });
    cleanups.push(() => cp.stop());
    const r = await fetch(`${cp.url}/v1/tiers`, { headers: { authorization: `Bearer ${'x'.repeat(32)}` } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });
});

describe('failed-authentication throttle', () => {
  it('after N bad tokens an address gets 429 rate_limited with Retry-After, even with a good token', async () => {
    const { startTestCp } = await import('../test-support/cp');
    const cp = await startTestCp('postgres', 'throttle', { fakeKong: false, env: { ADMIN_AUTH_MAX_FAILURES: '3' } });
    cleanups.push(() => cp.close());
    for (let i = 0; i < 3; i++) expect((await cp.call('GET', '/v1/tiers', { token: `lgadm_guess${i}` })).status).toBe(401);
    const r = await cp.call('GET', '/v1/tiers');
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('rate_limited');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect((await cp.call('GET', '/healthz', { token: null })).status).toBe(200);
  });
});

describe('without Redis', () => {
  it('API keys travel in llm-auth static `keys` (hashes only), pushed on every key change', async () => {
    const { startTestCp } = await import('../test-support/cp');
    const { hashApiKey } = await import('../../plugins/core/keys');
    const cp = await startTestCp('postgres', 'nored', { redis: false });
    cleanups.push(() => cp.close());
    await cp.call('POST', '/v1/tenants', { body: { id: 'nr', name: 'NR', tier: 'strict' } });
    const k = await cp.call('POST', '/v1/tenants/nr/keys', { body: {} });
    expect(k.body.delivery).toBe('disabled');
    await cp.delivery.flush();
    type Cfg = { plugins: Array<{ name: string; config: { keys: Array<{ hash: string; tenant: string }> } }> };
    const keysOf = () => (cp.kong!.current as Cfg).plugins.find((p) => p.name === 'llm-auth')!.config.keys;
    expect(keysOf()).toEqual([expect.objectContaining({ hash: hashApiKey(k.body.secret), tenant: 'nr' })]);
    expect(JSON.stringify(cp.kong!.current)).not.toContain(k.body.secret);
    await cp.call('POST', `/v1/keys/${k.body.key.id}/revoke`);
    await cp.delivery.flush();
    expect(keysOf()).toEqual([]);
  });
});
