/**
 * Pure cores of the four window algorithms (no I/O, time passed in as `now`, milliseconds).
 *
 * The Lua script in ./lua.ts performs exactly the same arithmetic, in the same order, on IEEE
 * doubles (Lua 5.1 numbers are doubles too), and returns the same rounded integers: the local
 * policy (./engine.ts) and Redis therefore decide identically for the same state and time.
 * A property test (engine-vs-lua) runs random sequences through both and compares.
 *
 * Every limit is "L units per period P"; a request costs `cost` units (1 for request limits,
 * the weighted token reservation for token limits). Results are integers:
 *  - remaining: units still available after this decision (floor, ≥ 0);
 *  - resetMs:   time until the limit is fully restored if nothing else happens (ceil);
 *  - retryMs:   on denial, time until this request would fit (ceil; P when it never can).
 *
 * Trade-offs (see docs/plugins/llm-token-limit.md):
 *  - fixed window: one counter; cheapest; allows up to 2·L across a window boundary.
 *  - sliding window (weighted previous window): two counters; smooths the boundary; the
 *    estimate assumes the previous window's traffic was uniform.
 *  - token bucket: two numbers (tokens, timestamp); bursts up to L, then a steady refill.
 *  - GCRA: one number (theoretical arrival time); same admission as the token bucket
 *    (a full bucket = TAT ≤ now), cheaper state, no separate refill step.
 */

export type Algorithm = 'fixed_window' | 'sliding_window' | 'token_bucket' | 'gcra';

/** Short codes used in keys and script arguments. */
export const ALG_CODE: Record<Algorithm, 'fw' | 'sw' | 'tb' | 'gc'> = {
  fixed_window: 'fw',
  sliding_window: 'sw',
  token_bucket: 'tb',
  gcra: 'gc',
};

export interface Verdict {
  allowed: boolean;
  remaining: number;
  resetMs: number;
  retryMs: number;
}

/** GCRA compares large timestamps: accept float noise up to P·1e-9 (documented). */
export const GCRA_TOLERANCE = 1e-9;

const nonNeg = (x: number) => (x < 0 ? 0 : x);

/**
 * Keys live a little longer than their state matters (window over, bucket full): harmless, since
 * an old window index is never read again and a full bucket / past TAT reads the same as no key.
 * It keeps the state across a test's pinned clock and small clock steps.
 */
export function storeSlack(periodMs: number): number {
  return periodMs < 60_000 ? periodMs : 60_000;
}

// ---------------------------------------------------------------------------------------------
// Fixed window: counter per window index floor(now / P).

export function fwWindow(now: number, periodMs: number): number {
  return Math.floor(now / periodMs);
}

export interface FixedWindowResult extends Verdict {
  /** Counter value to store when allowed. */
  next: number;
  /** TTL of the window key (until the window ends). */
  ttlMs: number;
}

export function fixedWindow(count: number, now: number, periodMs: number, limit: number, cost: number): FixedWindowResult {
  const end = (Math.floor(now / periodMs) + 1) * periodMs;
  const ttl = Math.ceil(end - now);
  const keep = ttl + storeSlack(periodMs);
  if (count + cost <= limit) {
    return { allowed: true, remaining: Math.floor(nonNeg(limit - count - cost)), resetMs: ttl, retryMs: 0, next: count + cost, ttlMs: keep };
  }
  return { allowed: false, remaining: Math.floor(nonNeg(limit - count)), resetMs: ttl, retryMs: cost > limit ? periodMs : ttl, next: count, ttlMs: keep };
}

/** Settle/rollback: counters never go below zero. */
export function counterAdjust(count: number, delta: number): number {
  return nonNeg(count + delta);
}

// ---------------------------------------------------------------------------------------------
// Sliding window: current counter + previous counter weighted by the unelapsed share.

export interface SlidingWindowResult extends Verdict {
  next: number;
  /** TTL of the current window key: it is still read as "previous" during the next window. */
  ttlMs: number;
}

export function slidingEstimate(prev: number, curr: number, now: number, periodMs: number): number {
  const elapsed = now - Math.floor(now / periodMs) * periodMs;
  return (prev * (periodMs - elapsed)) / periodMs + curr;
}

export function slidingWindow(prev: number, curr: number, now: number, periodMs: number, limit: number, cost: number): SlidingWindowResult {
  const start = Math.floor(now / periodMs) * periodMs;
  const elapsed = now - start;
  const est = (prev * (periodMs - elapsed)) / periodMs + curr;
  const ttl = Math.ceil(start + 2 * periodMs - now) + storeSlack(periodMs);
  if (est + cost <= limit) {
    const reset = Math.ceil(periodMs - elapsed + periodMs); // curr > 0 after this request (or cost 0)
    return { allowed: true, remaining: Math.floor(nonNeg(limit - est - cost)), resetMs: cost > 0 || curr > 0 ? reset : prev > 0 ? Math.ceil(periodMs - elapsed) : 0, retryMs: 0, next: curr + cost, ttlMs: ttl };
  }
  const need = limit - cost;
  let retry: number;
  if (need < 0) retry = periodMs;
  else if (curr <= need) retry = Math.ceil(periodMs - ((need - curr) * periodMs) / prev - elapsed);
  else retry = Math.ceil(periodMs - elapsed + (periodMs - (need * periodMs) / curr));
  const reset = curr > 0 ? Math.ceil(periodMs - elapsed + periodMs) : Math.ceil(periodMs - elapsed);
  return { allowed: false, remaining: Math.floor(nonNeg(limit - est)), resetMs: reset, retryMs: retry < 1 ? 1 : retry, next: curr, ttlMs: ttl };
}

// ---------------------------------------------------------------------------------------------
// Token bucket: capacity L, refill L per P, state {tokens, ts}; no state = full.

export interface BucketState {
  tokens: number;
  ts: number;
}

export interface TokenBucketResult extends Verdict {
  /** State to store; undefined = full (delete the key). */
  next: BucketState | undefined;
  ttlMs: number;
}

export function bucketLevel(state: BucketState | undefined, now: number, periodMs: number, limit: number): { tokens: number; ts: number } {
  if (!state) return { tokens: limit, ts: now };
  const elapsed = nonNeg(now - state.ts);
  let tokens = state.tokens + (elapsed * limit) / periodMs;
  if (tokens > limit) tokens = limit;
  return { tokens, ts: state.ts > now ? state.ts : now };
}

function bucketStore(tokens: number, ts: number, now: number, periodMs: number, limit: number): { next: BucketState | undefined; ttlMs: number } {
  if (tokens >= limit) return { next: undefined, ttlMs: 0 };
  const ttl = Math.ceil(((limit - tokens) * periodMs) / limit + (ts - now));
  return { next: { tokens, ts }, ttlMs: (ttl < 1 ? 1 : ttl) + storeSlack(periodMs) };
}

export function tokenBucket(state: BucketState | undefined, now: number, periodMs: number, limit: number, cost: number): TokenBucketResult {
  const { tokens, ts } = bucketLevel(state, now, periodMs, limit);
  if (tokens >= cost) {
    const after = tokens - cost;
    const s = bucketStore(after, ts, now, periodMs, limit);
    return { allowed: true, remaining: Math.floor(nonNeg(after)), resetMs: Math.ceil(((limit - after) * periodMs) / limit), retryMs: 0, next: s.next, ttlMs: s.ttlMs };
  }
  const retry = cost > limit ? periodMs : Math.ceil(((cost - tokens) * periodMs) / limit);
  const s = bucketStore(tokens, ts, now, periodMs, limit);
  return { allowed: false, remaining: Math.floor(nonNeg(tokens)), resetMs: Math.ceil(((limit - tokens) * periodMs) / limit), retryMs: retry < 1 ? 1 : retry, next: s.next, ttlMs: s.ttlMs };
}

/** Settle: delta > 0 takes more tokens (may go below zero: real usage), delta < 0 refunds (capped at L). */
export function bucketAdjust(state: BucketState | undefined, now: number, periodMs: number, limit: number, delta: number): { next: BucketState | undefined; ttlMs: number } {
  const { tokens, ts } = bucketLevel(state, now, periodMs, limit);
  let after = tokens - delta;
  if (after > limit) after = limit;
  return bucketStore(after, ts, now, periodMs, limit);
}

// ---------------------------------------------------------------------------------------------
// GCRA: emission interval T = P / L, burst L; state = theoretical arrival time (TAT); none = now.

export interface GcraResult extends Verdict {
  /** TAT to store; undefined = nothing to store (full). */
  next: number | undefined;
  ttlMs: number;
}

export function gcra(tat: number | undefined, now: number, periodMs: number, limit: number, cost: number): GcraResult {
  const interval = periodMs / limit;
  const base = tat !== undefined && tat > now ? tat : now;
  const newTat = base + cost * interval;
  if (newTat - now <= periodMs + periodMs * GCRA_TOLERANCE) {
    const ttl = Math.ceil(newTat - now);
    return { allowed: true, remaining: Math.floor(nonNeg((now + periodMs - newTat) / interval)), resetMs: ttl, retryMs: 0, next: ttl > 0 ? newTat : undefined, ttlMs: ttl + storeSlack(periodMs) };
  }
  const retry = cost > limit ? periodMs : Math.ceil(newTat - periodMs - now);
  const ttl = Math.ceil(base - now);
  return { allowed: false, remaining: Math.floor(nonNeg((now + periodMs - base) / interval)), resetMs: ttl, retryMs: retry < 1 ? 1 : retry, next: ttl > 0 ? base : undefined, ttlMs: ttl };
}

export function gcraAdjust(tat: number | undefined, now: number, periodMs: number, limit: number, delta: number): { next: number | undefined; ttlMs: number } {
  const interval = periodMs / limit;
  const base = tat !== undefined && tat > now ? tat : now;
  const next = base + delta * interval;
  const ttl = Math.ceil(next - now);
  return ttl > 0 ? { next, ttlMs: ttl + storeSlack(periodMs) } : { next: undefined, ttlMs: 0 };
}

// ---------------------------------------------------------------------------------------------
// Concurrency: one slot per in-flight request (member = request id, score = expiry).

export function concurrency(inFlight: number, limit: number, slotTtlMs: number): Verdict {
  if (inFlight + 1 <= limit) return { allowed: true, remaining: limit - inFlight - 1, resetMs: 0, retryMs: 0 };
  // A slot frees when a request finishes; there is no time to promise. 1 s is a polite hint.
  return { allowed: false, remaining: 0, resetMs: 0, retryMs: Math.min(1000, slotTtlMs) };
}
