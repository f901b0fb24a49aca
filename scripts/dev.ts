/**
 * `npm run dev`: the gateway stack on this machine, no Docker and no servers required —
 * the mock OpenAI-compatible upstream, one real plugin server per plugin, and the Kong-protocol
 * host as the gateway, all from kong/kong.yml (the same file real Kong reads). The control plane
 * (embedded PGlite) starts too once it exists, with a demo tenant whose key is printed once.
 * Redis is used when REDIS_URL (default redis://127.0.0.1:6379) answers; otherwise the plugins'
 * in-process `local` policy, said at start. Ctrl-C stops everything.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { startMockLlm } from '../test/harness/mock-llm';
import { startKongHost } from '../test/harness/kong-host';
import { readDeclarative } from '../test/harness/kong-host/config';
import { localizeConfig } from './localize-config';

const ROOT = resolve(__dirname, '..');

async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const useRedis = await redisAnswers(redisUrl);
  const llm = await startMockLlm({ port: Number(process.env.MOCK_LLM_PORT ?? 0) });
  const source = localizeConfig(readDeclarative(join(ROOT, 'kong/kong.yml')), { upstreamUrl: llm.url, redisUrl: useRedis ? redisUrl : undefined });
  const tryPorts = async () => {
    try {
      return await startKongHost({ config: source, proxyPort: Number(process.env.PROXY_PORT ?? 8000), adminPort: Number(process.env.ADMIN_PORT ?? 8001), env: { ...process.env, OPENAI_API_KEY: process.env.OPENAI_API_KEY ?? 'sk-mock-provider-key' } });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      return startKongHost({ config: source, env: { ...process.env, OPENAI_API_KEY: process.env.OPENAI_API_KEY ?? 'sk-mock-provider-key' } });
    }
  };
  const host = await tryPorts();

  let controlPlane: { url: string; stop(): Promise<void>; demo?: { tenantId: string; apiKey: string }; adminToken?: string } | undefined;
  const cpEntry = join(ROOT, 'control-plane/src/dev.ts');
  if (existsSync(cpEntry)) {
    const { startControlPlane } = (await import(cpEntry)) as { startControlPlane(o: Record<string, unknown>): Promise<typeof controlPlane> };
    controlPlane = await startControlPlane({ port: Number(process.env.CONTROL_PLANE_PORT ?? 0), kongAdminUrl: host.adminUrl, redisUrl: useRedis ? redisUrl : undefined });
  }

  console.log('\nkong-llm-guard dev stack');
  console.log(`  gateway (Kong-protocol host)  ${host.proxyUrl}    admin ${host.adminUrl}`);
  console.log(`  mock LLM upstream             ${llm.url}`);
  console.log(`  Redis                         ${useRedis ? redisUrl : 'not reachable — plugins use the in-process local policy'}`);
  if (controlPlane) {
    console.log(`  control plane                 ${controlPlane.url}   (admin token: see control-plane/.data/admin-token, mode 0600)`);
    if (controlPlane.demo) console.log(`  demo tenant ${controlPlane.demo.tenantId}, API key (shown once): ${controlPlane.demo.apiKey}`);
  }
  console.log(`\n  try: curl -s ${host.proxyUrl}/v1/chat/completions -H 'content-type: application/json' -H 'authorization: Bearer <key>' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'`);
  console.log('  Ctrl-C stops everything.\n');

  const stop = async () => {
    await controlPlane?.stop().catch(() => undefined);
    await host.stop().catch(() => undefined);
    await llm.stop().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
