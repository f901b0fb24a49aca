/**
 * bench/limiter — decisions per second against the local Redis, 50 concurrent callers:
 * llm-token-limit's decision (planning + one EVALSHA through the breaker, on the plugin's
 * shared client) with 1, 4 and 6 dimensions, side by side with rate-limiter-flexible
 * (RateLimiterRedis on a plain ioredis client, as its documentation sets it up) doing one
 * dimension.
 *
 *   npx tsx bench/limiter.ts                              # 4 rounds × 2 s per case
 *   BENCH_SECONDS=3 BENCH_ROUNDS=6 npx tsx bench/limiter.ts
 *   BENCH_SLICE_MS=500 npx tsx bench/limiter.ts          # interleaving slice (default 250 ms)
 *   BENCH_REDIS_PORT=7390 npx tsx bench/limiter.ts       # another Redis on loopback (keys are deleted after)
 *
 * Each case spreads requests over 100 tenants; limits are high enough that every decision is
 * an admission (the write path, the expensive one). A decision that reserves tokens leaves its
 * reservation in the plugin server's book until the log phase; here the log phase's settle
 * call is not part of a decision, so each reservation is taken out of the book right after its
 * decision (as the log phase does) instead of piling up unsettled. Keys use a unique prefix,
 * deleted after.
 *
 * The machine's speed drifts: on the shared 2-core VM the same process runs anywhere between
 * ~40 and ~85 k decisions/s, in phases of seconds, for both libraries alike. So the cases are
 * not run one after another for whole seconds: each round interleaves them in short slices
 * (250 ms, the order alternating slice by slice), and a case's round total is the sum of its
 * slices, so every case samples the same mix of fast and slow phases. The comparison with
 * rate-limiter-flexible is made per round; the verdict uses the median of the per-round ratios.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { decide, redisSettings } from '../plugins/llm-token-limit/limiter';
import { compileWeights, planRequest, type Subject } from '../plugins/llm-token-limit/plan';
import type { TokenLimitConfig } from '../plugins/llm-token-limit/schema';
import { closeAllRedis, getRedis } from '../plugins/core/redis/client';
import { reservations } from '../plugins/core/limits/redis';
import type { ResolvedLimits } from '../plugins/core/context';

const PORT = Number(process.env.BENCH_REDIS_PORT ?? 6379);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
const SLICE_MS = Math.max(50, Number(process.env.BENCH_SLICE_MS ?? 250));
const SLICES = Math.max(1, Math.round((SECONDS * 1000) / SLICE_MS));
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
  redis: { host: '127.0.0.1', port: PORT, database: 0, connect_timeout_ms: 1000, command_timeout_ms: 2000, breaker_open_ms: 1000 },
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

/** Redis's own CPU seconds (all of its work: scripts, sockets, parsing). */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return v('used_cpu_sys') + v('used_cpu_user');
}

interface Slice {
  done: number;
  errors: number;
  secs: number;
  nodeCpuUs: number;
}

async function run(one: (i: number) => Promise<unknown>, ms: number): Promise<Slice> {
  const end = Date.now() + ms;
  let done = 0;
  let errors = 0;
  let seq = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpu0);
  return { done, errors, secs, nodeCpuUs: cpu.user + cpu.system };
}

async function main(): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: PORT });
  getRedis(settings); // warm the shared client
  const results: Array<{ name: string; perSec: number; medianPerSec: number; errors: number; serverUs: number; nodeUs: number; redisUs: number }> = [];

  const peer = new RateLimiterRedis({ storeClient: redis, points: BIG, duration: 60, keyPrefix: `${prefix}rlflex` });
  await peer.consume('warm');
  let requestSeq = 0; // request ids unique over the whole run (slices restart their own counter)
  const runners: Array<{ name: string; one: (i: number) => Promise<unknown> }> = CASES.map((c, ci) => {
    const subject = (i: number): Subject => ({
      source: 'identity',
      request_id: `b${ci}-${++requestSeq}`,
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
          if (plan.tenant.writeRecord && !reservations.take(plan.tenant.recordKey, Date.now())) throw new Error('reservation missing');
        });
      },
    };
  });
  runners.push({ name: 'rate-limiter-flexible, 1 dim', one: (i) => peer.consume(`t${i % TENANTS}`) });
  for (const r of runners) await r.one(-1);
  type Round = { perSec: number; errors: number; serverUs: number; nodeUs: number; redisUs: number };
  const rounds = new Map<string, Round[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const sums = new Map<string, Slice & { scriptCalls: number; scriptUs: number; redisCpuS: number }>();
    for (let slice = 0; slice < SLICES; slice++) {
      for (const r of (round * SLICES + slice) % 2 === 0 ? runners : [...runners].reverse()) {
        const [c0, u0] = await scriptStats(redis);
        const r0 = await redisCpu(redis);
        const res = await run(r.one, SLICE_MS);
        const r1 = await redisCpu(redis);
        const [c1, u1] = await scriptStats(redis);
        const acc = sums.get(r.name) ?? { done: 0, errors: 0, secs: 0, nodeCpuUs: 0, scriptCalls: 0, scriptUs: 0, redisCpuS: 0 };
        acc.done += res.done;
        acc.errors += res.errors;
        acc.secs += res.secs;
        acc.nodeCpuUs += res.nodeCpuUs;
        acc.scriptCalls += c1 - c0;
        acc.scriptUs += u1 - u0;
        acc.redisCpuS += r1 - r0;
        sums.set(r.name, acc);
      }
    }
    for (const [name, t] of sums) {
      if (!rounds.has(name)) rounds.set(name, []);
      const per = Math.max(1, t.done);
      rounds.get(name)!.push({
        perSec: t.done / t.secs,
        errors: t.errors,
        serverUs: t.scriptUs / Math.max(1, t.scriptCalls),
        nodeUs: t.nodeCpuUs / per,
        redisUs: (t.redisCpuS * 1e6) / per,
      });
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  for (const r of runners) {
    const rs = rounds.get(r.name)!;
    results.push({
      name: r.name,
      perSec: Math.max(...rs.map((x) => x.perSec)),
      medianPerSec: median(rs.map((x) => x.perSec)),
      errors: rs.reduce((a, x) => a + x.errors, 0),
      serverUs: median(rs.map((x) => x.serverUs)),
      nodeUs: median(rs.map((x) => x.nodeUs)),
      redisUs: median(rs.map((x) => x.redisUs)),
    });
  }
  const ratios = (name: string) => {
    const ours = rounds.get(runners.find((r) => r.name.includes(name))!.name)!;
    const peer = rounds.get(runners.find((r) => r.name.includes('rate-limiter-flexible'))!.name)!;
    return ours.map((o, i) => o.perSec / peer[i]!.perSec);
  };

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nbench/limiter — ${CONCURRENCY} concurrent callers, ${ROUNDS} rounds of ${SECONDS} s per case (interleaved in ${SLICE_MS} ms slices, alternating order), local Redis\n`);
  console.log('CPU per decision: Node = this process, Redis = the whole server (scripts, sockets, parsing); script = EVALSHA time in INFO commandstats.\n');
  console.log(`${pad('case', 58)} ${'best/s'.padStart(9)} ${'median/s'.padStart(9)} ${'Node µs'.padStart(8)} ${'Redis µs'.padStart(9)} ${'script µs'.padStart(10)} ${'errors'.padStart(7)}`);
  for (const r of results)
    console.log(
      `${pad(r.name, 58)} ${Math.round(r.perSec).toString().padStart(9)} ${Math.round(r.medianPerSec).toString().padStart(9)} ${r.nodeUs.toFixed(1).padStart(8)} ${r.redisUs.toFixed(1).padStart(9)} ${r.serverUs.toFixed(1).padStart(10)} ${String(r.errors).padStart(7)}`,
    );
  const by = (s: string) => results.find((r) => r.name.includes(s))!;
  const four = ratios('4 dims');
  const fourRatio = median(four);
  const met = fourRatio >= 1;
  console.log(`\nper-round ratio, 4-dimension decision / rate-limiter-flexible single dimension: ${four.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`median ${fourRatio.toFixed(2)}× (${met ? 'target met' : 'target NOT met'}); 1 dimension: ${median(ratios('1 dim (')).toFixed(2)}×, 6 dimensions: ${median(ratios('6 dims')).toFixed(2)}×`);
  await redis.quit();

  await cleanup();
  console.log(
    `BENCH ${JSON.stringify({
      name: 'limiter',
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      rounds: ROUNDS,
      slice_ms: SLICE_MS,
      dims1_per_s: Math.round(by('1 dim (').medianPerSec),
      dims4_per_s: Math.round(by('4 dims').medianPerSec),
      dims6_per_s: Math.round(by('6 dims').medianPerSec),
      rate_limiter_flexible_1dim_per_s: Math.round(by('rate-limiter-flexible').medianPerSec),
      dims4_vs_peer_median: Number(fourRatio.toFixed(3)),
      dims4_vs_peer_rounds: four.map((x) => Number(x.toFixed(3))),
      script_us_per_call: Object.fromEntries(results.map((r) => [r.name, Number(r.serverUs.toFixed(1))])),
      node_cpu_us_per_decision: Object.fromEntries(results.map((r) => [r.name, Number(r.nodeUs.toFixed(1))])),
      redis_cpu_us_per_decision: Object.fromEntries(results.map((r) => [r.name, Number(r.redisUs.toFixed(1))])),
      target_met: met,
    })}`,
  );
}

/** Delete only this run's keys (also after a failure). */
async function cleanup(): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: PORT });
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
  await closeAllRedis();
}

/**
 * Measure the code as it runs in Kong: bundled by esbuild, run by plain Node. Under tsx the
 * loader's worker thread and hooks share the two cores with the benchmark, and runs often fall
 * into a regime where every llm-token-limit decision costs twice the Node CPU (not seen with
 * the bundle). So this file bundles itself and runs the bundle, unless it is that bundle.
 */
async function runBundled(): Promise<void> {
  const { build } = await import('esbuild');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'bench-limiter-'));
  try {
    const outfile = join(dir, 'limiter.cjs');
    await build({ entryPoints: [__filename], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning' });
    const r = spawnSync(process.execPath, [outfile], { stdio: 'inherit', env: { ...process.env, BENCH_LIMITER_BUNDLED: '1' } });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_LIMITER_BUNDLED) {
  main().catch(async (e) => {
    console.error(e);
    await cleanup().catch(() => {});
    process.exit(1);
  });
} else {
  runBundled().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
