/**
 * startControlPlane() as `npm run dev` uses it: in-memory PGlite, a demo tenant and key, the config
 * pushed to the gateway and the key record in Redis.
 */
import Redis from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { hashApiKey, keyRecordRedisKey, parseKeyRecord } from '../../plugins/core/keys';
import { startControlPlane, type StartedControlPlane } from '../src/index';
import { startFakeKong, type FakeKong } from '../test-support/fake-kong';
import { testSchemas } from '../test-support/cp';

let cp: StartedControlPlane | undefined;
let kong: FakeKong | undefined;
const redis = new Redis('redis://127.0.0.1:6379');
const prefix = `llg:t:dev:${Date.now()}:`;

afterAll(async () => {
  await cp?.stop();
  await kong?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('startControlPlane (dev)', () => {
  it('starts on PGlite, seeds a demo tenant and key, pushes, and the admin token works', async () => {
    kong = await startFakeKong(await testSchemas());
    cp = await startControlPlane({ port: 0, kongAdminUrl: kong.url, redisUrl: 'redis://127.0.0.1:6379', redisKeyPrefix: prefix, kongConfigPath: '/nonexistent/kong.yml' });
    expect(cp.demo.tenantId).toBe('demo');
    expect(cp.demo.apiKey).toMatch(/^lg_live_/);
    expect(cp.push.status).toBe('applied');
    const auth = (kong.current as { plugins: Array<{ name: string; config: { tenants: Array<{ id: string }>; redis_key_prefix: string } }> }).plugins.find((p) => p.name === 'llm-auth')!;
    expect(auth.config.tenants.map((t) => t.id)).toContain('demo');
    expect(auth.config.redis_key_prefix).toBe(prefix);
    const rec = parseKeyRecord(await redis.get(keyRecordRedisKey(prefix, hashApiKey(cp.demo.apiKey))));
    expect(rec?.tenant_id).toBe('demo');
    const r = await fetch(`${cp.url}/v1/tenants/demo`, { headers: { authorization: `Bearer ${cp.adminToken}` } });
    expect(r.status).toBe(200);
  }, 180_000); // PGlite start: ~4 s idle, over a minute on a loaded 2-core machine
});
