/**
 * Several plugin-server processes (as several Kong workers or nodes) sharing one Redis: the cap
 * holds across processes and each threshold is announced once, whichever process crosses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import Redis from 'ioredis';
import { startKongHost, type KongHost } from '../../test/harness/kong-host';
import { startMockLlm } from '../../test/harness/mock-llm';
import { deleteByPrefix, testPrefix } from '../../test/harness/redis';
import { chatStatus, identityJson } from '../../test/harness/identity';
import { streamFieldsToEvent } from '../core/events';
import { usdToNano } from '../core/money';
import { calendarPeriods, localParts } from '../core/periods';

const PREFIX = testPrefix('cost-multinode');
const redis = new Redis('redis://127.0.0.1:6379');
const TZ = ['UTC', 'Asia/Tokyo', 'America/New_York', 'Asia/Kolkata'].find((z) => {
  const h = localParts(Date.now(), z).hour;
  return h >= 2 && h <= 20;
})!;
let llm: Awaited<ReturnType<typeof startMockLlm>>;
let host: KongHost;

beforeAll(async () => {
  execFileSync('node', ['scripts/build.mjs', 'llm-cost-quota', 'fixture-identity'], { stdio: 'ignore' });
  llm = await startMockLlm();
  host = await startKongHost({
    serversPerPlugin: 3,
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'llm',
          url: `${llm.url}/v1`,
          routes: [
            {
              name: 'keep',
              paths: ['/keep'],
              plugins: [
                { name: 'fixture-identity', config: { from_header: true } },
                // No usage on this route: every admitted request keeps its $0.01 worst case.
                { name: 'llm-cost-quota', config: { prices: { 'mock-model': { input_per_1m: 1, output_per_1m: 1 } }, default_model: 'mock-model', default_input_tokens: 5000, default_max_tokens: 5000, redis_key_prefix: PREFIX, redis: { command_timeout_ms: 10_000 } } },
              ],
            },
          ],
        },
      ],
    },
  });
});

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
  await deleteByPrefix(redis, PREFIX);
  redis.disconnect();
});

describe('llm-cost-quota across 3 plugin-server processes', () => {
  it('150 concurrent $0.01 requests against $1.00: exactly 100 admitted; 80% and 100% announced once each', async () => {
    const tenant = 'multi';
    let n = 0;
    const identity = () =>
      identityJson({ tenant, requestId: `m-${++n}`, timezone: TZ, budgets: { tenant_daily_nano: usdToNano(1), thresholds_pct: [80, 100] } });
    const res = await Promise.all(
      Array.from({ length: 150 }, () =>
        chatStatus(`${host.proxyUrl}/keep/chat/completions`, identity(), 'mock-model'),
      ),
    );
    expect(res.filter((s) => s === 200)).toHaveLength(100);
    expect(res.filter((s) => s === 429)).toHaveLength(50);
    // Requests really were spread over the processes: each started its own plugin instance.
    expect(host.serverOutput('llm-cost-quota').filter((l) => /instance #\d+ of llm-cost-quota started/.test(l)).length).toBeGreaterThanOrEqual(2);
    const key = `${PREFIX}{${tenant}}:cost:tenant:d:${calendarPeriods(Date.now(), TZ).day.id}`;
    const end = Date.now() + 25_000;
    let h: Record<string, string> = {};
    while (Date.now() < end) {
      h = await redis.hgetall(key);
      if (Number(h.c) === usdToNano(1)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect({ s: Number(h.s), c: Number(h.c) }).toEqual({ s: usdToNano(1), c: usdToNano(1) });
    const events = (await redis.xrange(`${PREFIX}events`, '-', '+')).map(([, f]) => streamFieldsToEvent(f));
    const thr = events.filter((e) => e.type === 'budget_threshold' && e.tenant_id === tenant);
    expect(thr.map((e) => e.pct).sort()).toEqual(['100', '80']);
    expect(thr.find((e) => e.pct === '80')).toMatchObject({ trigger: 'spend', budget: 'tenant_daily' });
  }, 60_000);
});
