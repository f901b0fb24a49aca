/**
 * llm-token-limit with Redis blackholed / reset through the fault proxy mid-run:
 * fault_tolerant → local counters keep serving (logged), strict → 503, never a 500, recovery
 * without restart.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startKongHost, type KongHost } from '../../test/harness/kong-host/index';
import { startMockLlm } from '../../test/harness/mock-llm/index';
import { startFaultProxy, type FaultProxy } from '../../test/harness/fault-proxy/index';
import { deleteByPrefix, testPrefix } from '../../test/harness/redis';
import { statusCounts } from '../../test/harness/load';
import { chatStatus, identityJson } from '../../test/harness/identity';
import { groupField, unpackState } from '../core/limits/redis';

const prefix = testPrefix('token-limit-faults');
const redis = new Redis({ host: '127.0.0.1', port: 6379 });
let llm: Awaited<ReturnType<typeof startMockLlm>>;
let proxy: FaultProxy;
let rid = 0;

const identity = (tenant: string, limits: Record<string, unknown>): string => identityJson({ tenant, limits, requestId: `req-${process.pid}-${++rid}` });
const post = (host: KongHost, path: string, id: string): Promise<number> => chatStatus(`${host.proxyUrl}${path}/chat/completions`, id);

beforeAll(async () => {
  execFileSync('node', ['scripts/build.mjs', 'llm-token-limit', 'fixture-identity'], { stdio: 'ignore' });
  llm = await startMockLlm();
  proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: 6379 });
});

afterAll(async () => {
  await proxy?.stop();
  await llm?.stop();
  await deleteByPrefix(redis, prefix);
  redis.disconnect();
});

describe('Redis blackholed and reset mid-run (fault proxy)', () => {
  let host: KongHost;
  beforeAll(async () => {
    const limiter = (faultTolerant: boolean) => ({
      name: 'llm-token-limit',
      config: {
        algorithm: 'fixed_window',
        redis_key_prefix: prefix,
        fault_tolerant: faultTolerant,
        redis: { host: proxy.host, port: proxy.port, command_timeout_ms: 150, connect_timeout_ms: 150, breaker_open_ms: 300 },
      },
    });
    host = await startKongHost({
      config: {
        _format_version: '3.0',
        services: [
          {
            name: 'llm',
            url: `${llm.url}/v1`,
            routes: [
              { name: 'tolerant', paths: ['/tolerant'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter(true)] },
              { name: 'strict', paths: ['/strict'], plugins: [{ name: 'fixture-identity', config: { from_header: true } }, limiter(false)] },
            ],
          },
        ],
      },
    });
  });
  afterAll(() => host?.stop());

  const limits = { requests_per_hour: 1000 };
  // fixed-window count in the tenant's state hash
  const counter = async (tenant: string) => unpackState(await redis.hgetBuffer(`${prefix}{${tenant}}:rl:state`, groupField({ alg: 'fw', periodMs: 3_600_000 })))[1] ?? 0;
  const seen: number[] = [];
  const tolerant = async () => {
    const s = await post(host, '/tolerant', identity('tf-tol', limits));
    seen.push(s);
    return s;
  };
  const strict = async () => {
    const s = await post(host, '/strict', identity('tf-strict', limits));
    seen.push(s);
    return s;
  };

  for (const mode of ['blackhole', 'reset'] as const) {
    it(`${mode}: tolerant keeps serving from local counters (logged), strict answers 503; both recover without restart`, async () => {
      proxy.setMode('pass');
      // healthy: both decided in Redis
      await expect.poll(async () => [await tolerant(), await strict()], { timeout: 5000, interval: 100 }).toEqual([200, 200]);
      const before = await counter('tf-tol');
      expect(before).toBeGreaterThan(0);

      proxy.setMode(mode);
      const during = await statusCounts(10, tolerant);
      expect(during).toEqual({ 200: 10 });
      const strictDuring = await statusCounts(10, strict);
      expect(strictDuring).toEqual({ 503: 10 });
      expect(host.logs.some((l) => l.plugin === 'llm-token-limit' && /Redis unreachable: deciding with local counters/.test(l.message))).toBe(true);

      proxy.setMode('pass');
      // recovery: requests are decided in Redis again (the shared counter moves), no restart
      await expect.poll(async () => [await strict(), await tolerant()], { timeout: 8000, interval: 200 }).toEqual([200, 200]);
      await expect.poll(async () => {
        await tolerant();
        return await counter('tf-tol');
      }, { timeout: 8000, interval: 200 }).toBeGreaterThan(before);
      expect(seen.every((s) => s === 200 || s === 503)).toBe(true);
      expect(seen).not.toContain(500);
    });
  }
});
