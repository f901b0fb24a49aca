/**
 * bench/limiter — decisions per second against the local Redis, 50 concurrent callers:
 * llm-token-limit's decision (planning + one EVALSHA through the breaker) with 1, 4 and 6
 * dimensions, side by side with rate-limiter-flexible (RateLimiterRedis) doing one dimension.
 *
 *   npx tsx bench/limiter.ts            # ~3 s per case
 *   BENCH_SECONDS=5 npx tsx bench/limiter.ts
 *
 * Each case spreads requests over 100 tenants; limits are high enough that every decision is
 * an admission (the write path, the expensive one). Keys use a unique prefix, deleted after.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { decide, redisSettings } from '../plugins/llm-token-limit/limiter';
import { compileWeights, planRequest, type Subject } from '../plugins/llm-token-limit/plan';
import type { TokenLimitConfig } from '../plugins/llm-token-limit/schema';
import { closeAllRedis, getRedis } from '../plugins/core/redis/client';
import type { ResolvedLimits } from '../plugins/core/context';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = 50;
const TENANTS = 100;
const prefix = `llg:t:bench-limiter:${randomBytes(4).toString('hex')}:`;

const cfg: TokenLimitConfig = {
  algorithm: 'sliding_window',
  scope: ['tenant'],
  model_weights: {},
  default_input_tokens: 0,
  default_max_tokens: 256,
  mode: 'enforce',
  require_identity: true,
  policy: 'redis',
  fault_tolerant: false,
  concurrency_slot_ttl_sec: 60,
  headers: true,
  limit_events: false,
  events_maxlen: 1000,
  redis_key_prefix: prefix,
  redis: { host: '127.0.0.1', port: 6379, database: 0, connect_timeout_ms: 1000, command_timeout_ms: 2000, breaker_open_ms: 1000 },
};
const settings = redisSettings(cfg);
const weights = compileWeights({});
const BIG = 1_000_000_000;

const CASES: Array<{ name: string; limits: ResolvedLimits }> = [
  { name: '1 dim (requests/min)', limits: { requests_per_minute: BIG } },
  { name: '4 dims (req/min, req/day, tok/min, tok/day)', limits: { requests_per_minute: BIG, requests_per_day: BIG, tokens_per_minute: BIG, tokens_per_day: BIG } },
  {
    name: '6 dims (+ req/s, concurrency)',
    limits: { requests_per_second: BIG, requests_per_minute: BIG, requests_per_day: BIG, tokens_per_minute: BIG, tokens_per_day: BIG, concurrent_requests: BIG },
  },
];

/** Redis-side time of scripts (EVAL + EVALSHA) from INFO commandstats: other clients add noise. */
async function scriptStats(redis: Redis): Promise<[number, number]> {
  const info = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return [calls, usec];
}

async function run(one: (i: number) => Promise<unknown>): Promise<{ perSec: number; errors: number }> {
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  let errors = 0;
  let seq = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        try {
          await one(seq++);
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSec: done / secs, errors };
}

async function main(): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  getRedis(settings); // warm the shared client
  const results: Array<{ name: string; perSec: number; errors: number; serverUs: number }> = [];

  const peer = new RateLimiterRedis({ storeClient: redis, points: BIG, duration: 60, keyPrefix: `${prefix}rlflex` });
  await peer.consume('warm');
  let round = 0;
  const runners: Array<{ name: string; one: (i: number) => Promise<unknown> }> = CASES.map((c, ci) => {
    const subject = (i: number): Subject => ({
      source: 'identity',
      request_id: `b${round}-${ci}-${i}`,
      tenant_id: `t${i % TENANTS}`,
      timezone: 'UTC',
      limits: c.limits,
      budgets: {},
      input_tokens: 100,
      max_tokens: 256,
      n: 1,
    });
    return {
      name: `llm-token-limit, ${c.name}`,
      one: (i: number) => {
        const plan = planRequest(cfg, subject(i), weights);
        return decide(cfg, settings, plan.tenant, plan.tokens, plan.subject.request_id).then((d) => {
          if (!d.result.allowed || d.via !== 'redis') throw new Error('unexpected decision');
        });
      },
    };
  });
  runners.push({ name: 'rate-limiter-flexible, 1 dim', one: (i) => peer.consume(`t${i % TENANTS}`) });
  for (const r of runners) await r.one(-1);
  // Two rounds in opposite orders (the machine's load drifts); each case keeps its best round.
  const best = new Map<string, { perSec: number; errors: number; serverUs: number }>();
  for (round = 0; round < 2; round++) {
    for (const r of round === 0 ? runners : [...runners].reverse()) {
      const [c0, u0] = await scriptStats(redis);
      const res = await run(r.one);
      const [c1, u1] = await scriptStats(redis);
      const serverUs = (u1 - u0) / Math.max(1, c1 - c0);
      const prev = best.get(r.name);
      if (!prev || res.perSec > prev.perSec) best.set(r.name, { ...res, serverUs });
    }
  }
  for (const r of runners) results.push({ name: r.name, ...best.get(r.name)! });

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nbench/limiter — ${CONCURRENCY} concurrent callers, ${SECONDS} s per case, best of 2 rounds, local Redis\n`);
  console.log(`${pad('case', 58)} ${'decisions/s'.padStart(12)} ${'Redis µs/call'.padStart(14)} ${'errors'.padStart(7)}`);
  for (const r of results) console.log(`${pad(r.name, 58)} ${Math.round(r.perSec).toString().padStart(12)} ${r.serverUs.toFixed(1).padStart(14)} ${String(r.errors).padStart(7)}`);
  const by = (s: string) => results.find((r) => r.name.includes(s))!.perSec;
  const four = by('4 dims');
  const peerOne = by('rate-limiter-flexible');
  console.log(`\n4-dimension decision vs rate-limiter-flexible single dimension: ${(four / peerOne).toFixed(2)}× (${four >= peerOne ? 'target met' : 'target NOT met'})`);
  await redis.quit();

  await cleanup();
  console.log(
    `BENCH ${JSON.stringify({
      name: 'limiter',
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      dims1_per_s: Math.round(by('1 dim (')),
      dims4_per_s: Math.round(four),
      dims6_per_s: Math.round(by('6 dims')),
      rate_limiter_flexible_1dim_per_s: Math.round(peerOne),
      dims4_vs_peer: Number((four / peerOne).toFixed(3)),
      redis_us_per_call: Object.fromEntries(results.map((r) => [r.name, Number(r.serverUs.toFixed(1))])),
      target_met: four >= peerOne,
    })}`,
  );
}

/** Delete only this run's keys (also after a failure). */
async function cleanup(): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
  await closeAllRedis();
}

main().catch(async (e) => {
  console.error(e);
  await cleanup().catch(() => {});
  process.exit(1);
});
