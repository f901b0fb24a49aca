/** Small helpers shared by the benchmarks: percentiles, a fixed-concurrency load loop, the result line. */

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i] as number;
}

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export function stats(samplesMs: number[]): LatencyStats {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

/** Run `fn` `total` times with `concurrency` callers; returns each call's latency in ms. */
export async function load(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const t = process.hrtime.bigint();
        await fn(i);
        out.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  return out;
}

/** The machine-readable result line every benchmark ends with. */
export function benchLine(name: string, result: Record<string, unknown>): void {
  console.log(`BENCH ${JSON.stringify({ name, ...result })}`);
}

export const fmt = (ms: number): string => `${ms.toFixed(3)} ms`;
