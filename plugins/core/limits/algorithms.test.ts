import { describe, expect, it } from 'vitest';
import { bucketAdjust, fixedWindow, gcra, gcraAdjust, slidingEstimate, slidingWindow, tokenBucket, type BucketState } from './algorithms';

const MIN = 60_000;
const T0 = 1_800_000_000_000; // a minute boundary (divisible by 60 000)

/** Run `n` requests of `cost` at `now` through a state-carrying closure; count admissions. */
function admitted(n: number, step: () => boolean): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (step()) ok++;
  return ok;
}

describe('fixed window', () => {
  it('admits exactly L in a window, resets at the boundary, and allows 2L across it', () => {
    let count = 0;
    let idx = Math.floor((T0 + MIN - 1) / MIN);
    const at = (now: number) => () => {
      const w = Math.floor(now / MIN);
      if (w !== idx) {
        idx = w;
        count = 0;
      }
      const r = fixedWindow(count, now, MIN, 10, 1);
      if (r.allowed) count = r.next;
      return r.allowed;
    };
    expect(admitted(15, at(T0 + MIN - 1))).toBe(10); // last ms of a window
    expect(fixedWindow(count, T0 + MIN - 1, MIN, 10, 1)).toMatchObject({ allowed: false, remaining: 0, resetMs: 1, retryMs: 1 });
    expect(admitted(15, at(T0 + MIN))).toBe(10); // first ms of the next: the known 2·L burst
  });

  it('reports remaining and reset; a cost larger than the limit never fits', () => {
    expect(fixedWindow(3, T0 + 15_000, MIN, 10, 4)).toMatchObject({ allowed: true, remaining: 3, resetMs: 45_000, next: 7 });
    expect(fixedWindow(0, T0, MIN, 10, 11)).toMatchObject({ allowed: false, retryMs: MIN });
  });
});

describe('sliding window (weighted previous window)', () => {
  it('weights the previous window by the unelapsed share', () => {
    expect(slidingEstimate(100, 0, T0 + MIN + 15_000, MIN)).toBe(75);
    expect(slidingEstimate(100, 10, T0 + MIN + 45_000, MIN)).toBe(35);
  });

  it('never admits past its definition and tells when the next request fits', () => {
    // previous window full (100), 25% into the current one: estimate 75 → 25 more fit.
    let curr = 0;
    const now = T0 + MIN + 15_000;
    const ok = admitted(60, () => {
      const r = slidingWindow(100, curr, now, MIN, 100, 1);
      if (r.allowed) curr = r.next;
      expect(slidingEstimate(100, curr, now, MIN)).toBeLessThanOrEqual(100);
      return r.allowed;
    });
    expect(ok).toBe(25);
    const denied = slidingWindow(100, curr, now, MIN, 100, 1);
    expect(denied.allowed).toBe(false);
    // need = 99, curr = 25: prev·(P−e)/P ≤ 74 → e ≥ 15 600 ms: 600 ms from now.
    expect(denied.retryMs).toBe(600);
    expect(slidingWindow(100, curr, now + 599, MIN, 100, 1).allowed).toBe(false);
    expect(slidingWindow(100, curr, now + 600, MIN, 100, 1).allowed).toBe(true);
  });

  it('waits into the next window when the current one alone is over the limit', () => {
    const now = T0 + 30_000;
    const r = slidingWindow(0, 100, now, MIN, 100, 1);
    // next window: 100·(P−e)/P ≤ 99 → e ≥ 600 ms; from now: 30 000 + 600.
    expect(r).toMatchObject({ allowed: false, retryMs: 30_600 });
    expect(slidingWindow(100, 0, T0 + MIN + 599, MIN, 100, 1).allowed).toBe(false);
    expect(slidingWindow(100, 0, T0 + MIN + 600, MIN, 100, 1).allowed).toBe(true);
  });
});

describe('token bucket', () => {
  it('bursts up to capacity, then refills at L/P', () => {
    let s: BucketState | undefined;
    const step = (now: number, cost = 1) => () => {
      const r = tokenBucket(s, now, MIN, 100, cost);
      if (r.allowed) s = r.next;
      return r.allowed;
    };
    expect(admitted(150, step(T0))).toBe(100);
    const d = tokenBucket(s, T0, MIN, 100, 1);
    expect(d).toMatchObject({ allowed: false, remaining: 0, retryMs: 600, resetMs: MIN });
    expect(admitted(5, step(T0 + 599))).toBe(0);
    expect(admitted(5, step(T0 + 600))).toBe(1);
    expect(admitted(50, step(T0 + 600 + 30_000))).toBe(50); // half a period = half the capacity
    expect(admitted(1, step(T0 + 600 + 30_000))).toBe(0);
  });

  it('a full bucket is no state; refunds are capped at capacity; overruns go below zero', () => {
    const r = tokenBucket(undefined, T0, MIN, 1000, 0);
    expect(r.next).toBeUndefined();
    const used = tokenBucket(undefined, T0, MIN, 1000, 400);
    expect(used.next).toEqual({ tokens: 600, ts: T0 });
    expect(bucketAdjust(used.next, T0, MIN, 1000, -400).next).toBeUndefined(); // full again
    expect(bucketAdjust(used.next, T0, MIN, 1000, -10_000).next).toBeUndefined();
    const debt = bucketAdjust(used.next, T0, MIN, 1000, 1000).next as BucketState;
    expect(debt.tokens).toBe(-400);
    expect(tokenBucket(debt, T0 + 24_000, MIN, 1000, 1).allowed).toBe(false); // -400 + 400 = 0
    expect(tokenBucket(debt, T0 + 24_060, MIN, 1000, 1).allowed).toBe(true);
  });
});

describe('GCRA', () => {
  it('admits a burst of L, then one per emission interval', () => {
    let tat: number | undefined;
    const step = (now: number) => () => {
      const r = gcra(tat, now, MIN, 100, 1);
      if (r.allowed) tat = r.next;
      return r.allowed;
    };
    expect(admitted(150, step(T0))).toBe(100);
    expect(gcra(tat, T0, MIN, 100, 1)).toMatchObject({ allowed: false, remaining: 0, retryMs: 600, resetMs: MIN });
    expect(admitted(3, step(T0 + 599))).toBe(0);
    expect(admitted(3, step(T0 + 600))).toBe(1);
  });

  it('is exact with an emission interval that is not a whole number of ms', () => {
    let tat: number | undefined;
    const ok = admitted(20, () => {
      const r = gcra(tat, T0 + 1, MIN, 7, 1);
      if (r.allowed) tat = r.next;
      return r.allowed;
    });
    expect(ok).toBe(7);
  });

  it('refunds move the arrival time back; weighted costs consume several intervals', () => {
    const r = gcra(undefined, T0, MIN, 1000, 250);
    expect(r).toMatchObject({ allowed: true, remaining: 750, resetMs: 15_000 });
    expect(gcraAdjust(r.next, T0, MIN, 1000, -250).next).toBeUndefined();
    expect(gcraAdjust(r.next, T0, MIN, 1000, -50).next).toBe(T0 + 12_000);
  });

  it('agrees with the token bucket on admissions (same limit, same arrivals)', () => {
    let tat: number | undefined;
    let s: BucketState | undefined;
    let t = T0;
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      t += Math.floor(rnd() * 900);
      const cost = 1 + Math.floor(rnd() * 5);
      const a = gcra(tat, t, MIN, 100, cost);
      const b = tokenBucket(s, t, MIN, 100, cost);
      expect(a.allowed).toBe(b.allowed);
      if (a.allowed) tat = a.next;
      if (b.allowed) s = b.next;
    }
  });
});
