/**
 * llm-cost-quota benchmark: reserve + settle (one access and one log round trip) per request
 * against the machine's Redis, with 1, 4 and 5 budget counters, and the in-memory fallback;
 * plus the Node-side cost of computing calendar periods in a timezone.
 *
 *   npx tsx bench/cost.ts            (REDIS_URL to point elsewhere)
 */
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { calendarPeriods } from '../plugins/core/periods';
import { tenantScope, type BudgetScope } from '../plugins/llm-cost-quota/budgets';
import { LocalCostStore, RedisCostStore, type CostStore } from '../plugins/llm-cost-quota/store';

const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const PREFIX = `llg:t:bench-cost:${randomBytes(4).toString('hex')}:`;
const CONCURRENCY = 50;
const N = Number(process.env.BENCH_N || 20_000);

function scope(counters: 1 | 4 | 5, tenant: string): BudgetScope {
  const big = 1e15;
  const budgets =
    counters === 1
      ? { tenant_daily_nano: big }
      : counters === 4
        ? { tenant_daily_nano: big, tenant_monthly_nano: big, key_daily_nano: big, key_monthly_nano: big }
        : { tenant_daily_nano: big, tenant_monthly_nano: big, key_daily_nano: big, key_monthly_nano: big, per_minute_nano: big };
  return tenantScope({ prefix: PREFIX, tenant_id: tenant, lineage_id: 'lin', budgets, timezone: 'America/New_York', now: Date.now(), default_thresholds: [80, 100], grace_sec: 3600 });
}

async function run(store: CostStore, sc: BudgetScope, n = N, warm = true): Promise<{ perSec: number; p50: number; p99: number }> {
  if (warm) await run(store, { ...sc, base: `${sc.base}warm:` }, Math.min(1000, n), false); // script load, JIT
  const N = n;
  let next = 0;
  const lat: number[] = [];
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const s = process.hrtime.bigint();
        const id = `r${i}`;
        const r = await store.reserve({ scope: sc, request_id: id, cost_nano: 10_000, shadow: false, record_ttl_sec: 120 });
        if (!r.admitted) throw new Error('bench budget too small');
        await store.settle({ base: sc.base, request_id: id, reserved_nano: 10_000, actual_nano: 4_000 });
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { perSec: N / secs, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

function periodsCost(step: number): number {
  const iters = step > 3_600_000 ? 2_000 : 20_000;
  let t = Date.now();
  const s = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) {
    calendarPeriods(t, i % 2 ? 'America/New_York' : 'Asia/Kolkata');
    t += step;
  }
  return Number(process.hrtime.bigint() - s) / 1e3 / iters; // µs per call
}

async function main() {
  const rows: Array<[string, { perSec: number; p50: number; p99: number }]> = [];
  for (const n of [1, 4, 5] as const) rows.push([`redis, ${n} counter${n > 1 ? 's' : ''}`, await run(new RedisCostStore(redis), scope(n, `b${n}`))]);
  rows.push(['local (fallback), 5 counters', await run(new LocalCostStore(), scope(5, 'local'))]);
  const periodsUs = periodsCost(1000); // same local day: cached
  const periodsColdUs = periodsCost(86_400_000 + 1000); // a new day each call: computed with Intl

  console.log(`\nllm-cost-quota: reserve + settle per request, ${N} requests, ${CONCURRENCY} concurrent\n`);
  console.log('store                          requests/s   p50 ms   p99 ms');
  for (const [name, r] of rows) console.log(`${name.padEnd(30)} ${r.perSec.toFixed(0).padStart(10)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`);
  console.log(`\ncalendarPeriods: ${periodsUs.toFixed(2)} µs per call within a day (cached), ${periodsColdUs.toFixed(1)} µs on a new day (Intl, DST-safe)\n`);

  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
  const result: Record<string, unknown> = { name: 'cost', requests: N, concurrency: CONCURRENCY, periods_us: Number(periodsUs.toFixed(2)), periods_cold_us: Number(periodsColdUs.toFixed(1)) };
  for (const [name, r] of rows) result[name.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '')] = Math.round(r.perSec);
  console.log(`BENCH ${JSON.stringify(result)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
