/**
 * llm-token-limit exactness with 5 plugin-server processes sharing one Redis (HostOptions
 * serversPerPlugin = 5): requests spread over the processes, the script keeps the count exact.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startKongHost, type KongHost } from '../../test/harness/kong-host/index';
import { startMockLlm } from '../../test/harness/mock-llm/index';
import { deleteByPrefix, testPrefix } from '../../test/harness/redis';
import { statusCounts } from '../../test/harness/load';
import { chatStatus, identityJson } from '../../test/harness/identity';

const prefix = testPrefix('token-limit-multi');
const redis = new Redis({ host: '127.0.0.1', port: 6379 });
let llm: Awaited<ReturnType<typeof startMockLlm>>;
let rid = 0;

const identity = (tenant: string, limits: Record<string, unknown>): string => identityJson({ tenant, limits, requestId: `req-${process.pid}-${++rid}` });
const SET_IDENTITY = `return function()
  local r = kong.request.get_header("x-fixture-identity")
  if r then kong.ctx.shared["llm.identity"] = r end
end`;

const post = (host: KongHost, path: string, id: string): Promise<number> => chatStatus(`${host.proxyUrl}${path}/chat/completions`, id);

beforeAll(async () => {
  execFileSync('node', ['scripts/build.mjs', 'llm-token-limit'], { stdio: 'ignore' });
  llm = await startMockLlm();
});

afterAll(async () => {
  await llm?.stop();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
});

describe('five plugin-server processes sharing one Redis', () => {
  let host: KongHost;
  const NOW = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
  beforeAll(async () => {
    const limiter = (algorithm: string) => ({
      name: 'llm-token-limit',
      config: { algorithm, redis_key_prefix: prefix, fault_tolerant: false, redis: { port: 6379, command_timeout_ms: 5000, connect_timeout_ms: 2000 } },
    });
    host = await startKongHost({
      serversPerPlugin: 5,
      env: { LLG_LIMIT_TEST_NOW_MS: String(NOW) },
      config: {
        _format_version: '3.0',
        services: [
          {
            name: 'llm',
            url: `${llm.url}/v1`,
            routes: [
              // the identity comes from a pre-function here (in the host, no extra plugin servers to start)
              { name: 'fw', paths: ['/fw'], plugins: [{ name: 'pre-function', config: { access: [SET_IDENTITY] } }, limiter('fixed_window')] },
              { name: 'tb', paths: ['/tb'], plugins: [{ name: 'pre-function', config: { access: [SET_IDENTITY] } }, limiter('token_bucket')] },
            ],
          },
        ],
      },
    });
  });
  afterAll(() => host?.stop());

  it('fixed window: 500 concurrent against 100/min → exactly 100', { timeout: 90_000 }, async () => {
    expect(await statusCounts(500, () => post(host, '/fw', identity('t5-fw', { requests_per_minute: 100 })))).toEqual({ 200: 100, 429: 400 });
  });

  it('token bucket: 500 concurrent against 100/min → exactly 100', { timeout: 90_000 }, async () => {
    expect(await statusCounts(500, () => post(host, '/tb', identity('t5-tb', { requests_per_minute: 100 })))).toEqual({ 200: 100, 429: 400 });
  });
});

