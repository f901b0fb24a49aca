/**
 * llm-auth costs: the decision in-process (API key with a warm cache, API key cache miss = one
 * Redis GET, static key, JWT RS256/ES256 with a cached JWKS), and through the Kong-protocol host
 * (real kong-js-pluginserver): PDK calls per request in access and the plugin time per request.
 */
import Redis from 'ioredis';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { generateApiKey, keyRecordRedisKey } from '../plugins/core/keys';
import { closeAllRedis } from '../plugins/core/redis/client';
import { Authenticator } from '../plugins/llm-auth/authenticate';
import { closeKeyStores } from '../plugins/llm-auth/keystore';
import { authConfig, TENANTS, TIERS } from '../plugins/llm-auth/testing/fixtures';
import { startJwksServer } from '../plugins/llm-auth/testing/jwks-server';
import { startKongHost } from '../test/harness/kong-host';
import { startMockLlm } from '../test/harness/mock-llm';
import { deleteByPrefix, redisUrl, testPrefix } from '../test/harness/redis';
import { benchLine, load, stats } from './lib';

const N = Number(process.env.BENCH_REQUESTS ?? 2000);
const prefix = testPrefix('bench-auth');
const redis = new Redis(redisUrl());
const noop = async () => undefined;

function req(headers: Record<string, string[]>) {
  return { headers, now: Date.now(), clientIp: async () => '127.0.0.1', peerIp: async () => '127.0.0.1', tlsChain: noop, consumer: noop };
}

async function timeEach(n: number, fn: (i: number) => Promise<boolean>): Promise<ReturnType<typeof stats>> {
  for (let i = 0; i < Math.min(200, n); i++) if (!(await fn(i))) throw new Error('refused');
  return stats(await load(n, 1, async (i) => void (await fn(i))));
}

async function main() {
  const rows: Array<[string, ReturnType<typeof stats>]> = [];
  // API keys in Redis.
  const keys = Array.from({ length: N + 200 }, () => generateApiKey());
  const pipe = redis.pipeline();
  keys.forEach((k, i) => pipe.set(keyRecordRedisKey(prefix, k.hash), JSON.stringify({ v: 1, key_id: `k${i}`, tenant_id: 'acme', lineage_id: `l${i}`, prefix: k.prefix, revoked: false })));
  await pipe.exec();
  const auth = new Authenticator(authConfig({ methods: ['api_key'], redis: { host: '127.0.0.1', port: 6379 }, redis_key_prefix: prefix, cache: { max_entries: 100_000 } }));
  const hot = keys[0]!;
  rows.push(['api_key, cache hit', await timeEach(N, async () => (await auth.authenticate(req({ authorization: [`Bearer ${hot.key}`] }))).ok)]);
  let miss = 0;
  rows.push(['api_key, cache miss (1 Redis GET)', await timeEach(N, async () => (await auth.authenticate(req({ authorization: [`Bearer ${keys[miss++ % keys.length]!.key}`] }))).ok)]);
  const stat = generateApiKey();
  const st = new Authenticator(authConfig({ methods: ['api_key'], keys: [{ hash: stat.hash, tenant: 'acme' }] }));
  rows.push(['static key', await timeEach(N, async () => (await st.authenticate(req({ authorization: [`Bearer ${stat.key}`] }))).ok)]);

  // JWT with a cached JWKS.
  const jwtRows: Array<[string, string]> = [['RS256', 'rs'], ['ES256', 'es']];
  const jwks = await startJwksServer([]);
  for (const [alg] of jwtRows) {
    const kp = await generateKeyPair(alg, { extractable: true });
    jwks.keys = [...jwks.keys, { ...(await exportJWK(kp.publicKey)), kid: alg, alg }];
    const token = await new SignJWT({ tenant_id: 'acme', sub: 'u1' }).setProtectedHeader({ alg, kid: alg }).setIssuer(`https://${alg}.test`).setAudience('gw').setExpirationTime('1h').sign(kp.privateKey);
    const a = new Authenticator(authConfig({ methods: ['jwt'], jwt_issuers: [{ issuer: `https://${alg}.test`, audiences: ['gw'], algorithms: [alg], jwks_uri: `${jwks.url}?${alg}` }] }));
    rows.push([`jwt ${alg} (JWKS cached)`, await timeEach(N, async () => (await a.authenticate(req({ authorization: [`Bearer ${token}`] }))).ok)]);
  }
  await jwks.stop();

  console.log('\nllm-auth decision in-process (sequential, ms per request)');
  for (const [name, s] of rows) console.log(`  ${name.padEnd(36)} p50 ${s.p50.toFixed(4)}  p99 ${s.p99.toFixed(4)}  mean ${s.mean.toFixed(4)}`);

  // Through the host: PDK calls and plugin time per request.
  const llm = await startMockLlm();
  const hostKey = keys[1]!;
  const common = { tiers: TIERS, tenants: TENANTS, redis: { host: '127.0.0.1', port: 6379 }, redis_key_prefix: prefix, upstream_auth: { scheme: 'Bearer', value: 'sk-bench' } };
  const host = await startKongHost({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'llm',
          url: llm.url,
          routes: [
            { name: 'throttle-off', paths: ['/a'], plugins: [{ name: 'llm-auth', config: { ...common, throttle: { enabled: false } } }] },
            { name: 'throttle-on', paths: ['/b'], plugins: [{ name: 'llm-auth', config: { ...common, throttle: { enabled: true } } }] },
          ],
        },
      ],
    },
  });
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const hostRows: Array<{ route: string; pdk: number; pluginMs: number; p50: number }> = [];
  const sender = (path: string) => async () => {
    const r = await fetch(`${host.proxyUrl}${path}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${hostKey.key}` } });
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    await r.arrayBuffer();
  };
  // Warm both routes (plugin instances, connections, JIT) before measuring either.
  for (const path of ['/a', '/b', '/a', '/b']) await load(100, 2, sender(path));
  for (const [route, path] of [['throttle-off', '/a'], ['throttle-on', '/b']] as const) {
    const send = async () => {
      const r = await fetch(`${host.proxyUrl}${path}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${hostKey.key}` } });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      await r.arrayBuffer();
    };
    const before = host.traces.length;
    const lat = stats(await load(400, 1, send));
    await new Promise((r) => setTimeout(r, 200));
    const traces = host.traces.slice(before).filter((t) => t.route === route);
    const pdk = traces.map((t) => t.pdkCalls.filter((c) => c.plugin === 'llm-auth' && c.phase === 'access').length);
    hostRows.push({ route, pdk: Math.max(...pdk), pluginMs: stats(traces.map((t) => t.pluginMs)).p50, p50: lat.p50 });
  }
  await host.stop();
  await llm.stop();
  console.log('\nThrough the Kong-protocol host (API key, cache warm)');
  for (const r of hostRows) console.log(`  ${r.route.padEnd(14)} PDK calls in access ${r.pdk}   plugin time p50 ${r.pluginMs.toFixed(3)} ms   request p50 ${r.p50.toFixed(3)} ms`);

  await deleteByPrefix(redis, prefix);
  redis.disconnect();
  await closeKeyStores();
  await closeAllRedis();
  const by = Object.fromEntries(rows.map(([n, s]) => [n, s]));
  benchLine('auth', {
    requests: N,
    api_key_hit_p50_ms: by['api_key, cache hit']!.p50,
    api_key_miss_p50_ms: by['api_key, cache miss (1 Redis GET)']!.p50,
    static_key_p50_ms: by['static key']!.p50,
    jwt_rs256_p50_ms: by['jwt RS256 (JWKS cached)']!.p50,
    jwt_es256_p50_ms: by['jwt ES256 (JWKS cached)']!.p50,
    pdk_calls_access: hostRows[0]!.pdk,
    pdk_calls_access_throttled: hostRows[1]!.pdk,
    host_plugin_p50_ms: hostRows[0]!.pluginMs,
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
