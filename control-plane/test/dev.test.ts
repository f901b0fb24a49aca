/**
 * The `npm run dev` path: the Kong-protocol host on the repository's kong/kong.yml (localized to
 * this machine, all five plugins), then control-plane/src/dev.ts startControlPlane() on in-memory
 * PGlite — it takes the gateway's running config as its base, seeds the demo tenant and key and
 * pushes. The demo key then gets a chat completion through the whole chain.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { hashApiKey, keyRecordRedisKey, parseKeyRecord } from '../../plugins/core/keys';
import { startControlPlane, type StartedControlPlane } from '../src/dev';
import { startKongHost, type KongHost } from '../../test/harness/kong-host';
import { readDeclarative } from '../../test/harness/kong-host/config';
import { startMockLlm, type MockLlm } from '../../test/harness/mock-llm';
import { localizeConfig, visitPlugins } from '../../scripts/localize-config';

let cp: StartedControlPlane | undefined;
let host: KongHost | undefined;
let llm: MockLlm | undefined;
const redis = new Redis('redis://127.0.0.1:6379');
const prefix = `llg:t:dev:${Date.now()}:`;
const PLUGINS = ['llm-auth', 'llm-input-guard', 'llm-token-limit', 'llm-cost-quota', 'llm-output-redact'];
const built = PLUGINS.every((p) => existsSync(join(__dirname, '..', '..', 'dist', 'kong-plugins', p, `${p}.cjs`)));

afterAll(async () => {
  await cp?.stop();
  await host?.stop();
  await llm?.stop();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('startControlPlane (dev)', () => {
  it.skipIf(!built)(
    'seeds a demo tenant and key on PGlite, pushes over the running kong.yml, and the key works through all five plugins',
    async () => {
      llm = await startMockLlm();
      const source = localizeConfig(readDeclarative(join(__dirname, '..', '..', 'kong', 'kong.yml')), { upstreamUrl: llm.url, redisUrl: 'redis://127.0.0.1:6379' });
      // Isolate this test's Redis keys: every plugin's prefix → ours.
      visitPlugins(source, (p) => {
        const c = p.config as Record<string, unknown> | undefined;
        if (c && 'redis_key_prefix' in c) c.redis_key_prefix = prefix;
      });
      host = await startKongHost({ config: source, env: { ...process.env, OPENAI_API_KEY: 'sk-mock-provider' } });
      const tokenFile = join(mkdtempSync(join(tmpdir(), 'cp-dev-')), 'admin-token');
      cp = await startControlPlane({ port: 0, kongAdminUrl: host.adminUrl, redisUrl: 'redis://127.0.0.1:6379', redisKeyPrefix: prefix, adminTokenFile: tokenFile });
      expect(cp.push.status, JSON.stringify(cp.push)).toBe('applied');
      expect(cp.demo).toMatchObject({ tenantId: 'demo' });
      expect(cp.demo.apiKey).toMatch(/^lg_live_/);
      expect(parseKeyRecord(await redis.get(keyRecordRedisKey(prefix, hashApiKey(cp.demo.apiKey))))?.tenant_id).toBe('demo');
      const admin = await fetch(`${cp.url}/v1/tenants/demo`, { headers: { authorization: `Bearer ${cp.adminToken}` } });
      expect(admin.status).toBe(200);

      const chat = await fetch(`${host.proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.demo.apiKey}`, 'x-llm-feature': 'chat_support' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
      });
      const text = await chat.text();
      expect(chat.status, text).toBe(200);
      expect(JSON.parse(text).choices[0].message.content).toBeTruthy();
      const refused = await fetch(`${host.proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer lg_live_${'1'.repeat(44)}` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
      });
      expect(refused.status).toBe(401);
    },
    240_000, // PGlite start: ~4 s idle, over a minute on a loaded 2-core machine
  );
});
