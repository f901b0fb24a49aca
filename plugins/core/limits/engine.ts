/**
 * The multi-dimension decision and its settlement, over an in-process store.
 *
 * This is both the `local` policy (and the fault-tolerant fallback) and the reference model of
 * the Lua scripts in ./lua.ts: same keys, same order of checks, same arithmetic (the pure cores
 * in ./algorithms.ts), same all-or-nothing rule — every dimension is checked first and state is
 * written only when all of them admit the request.
 */
import {
  bucketAdjust,
  concurrency,
  counterAdjust,
  fixedWindow,
  gcra,
  gcraAdjust,
  slidingWindow,
  tokenBucket,
  type BucketState,
  type Verdict,
} from './algorithms';

/** r = requests (cost 1), t = tokens (cost = reservation), c = concurrency slot. */
export type DimKind = 'r' | 't' | 'c';
export type AlgCode = 'fw' | 'sw' | 'tb' | 'gc' | 'cc';

export interface DimSpec {
  kind: DimKind;
  alg: AlgCode;
  limit: number;
  /** Window length; for concurrency, the slot lifetime. */
  periodMs: number;
}

/**
 * A dimension's state is identified by its kind, algorithm and period within its scope (so a
 * changed limit keeps the count); a request has at most one dimension per identity.
 */
export function dimIdentity(d: Pick<DimSpec, 'kind' | 'alg' | 'periodMs'>): string {
  return `${d.kind}${d.alg}:${d.periodMs}`;
}

export interface DecideArgs {
  recordKey: string;
  /** Hash holding every window/bucket dimension's state, e.g. `llg:{tenant}:rl:state`. */
  stateKey: string;
  /** Sorted set of concurrency slots. */
  slotKey: string;
  requestId: string;
  dims: readonly DimSpec[];
  /** Weighted token reservation (cost of every 't' dimension). */
  tokens: number;
  /** Write a reservation record (needed when something must be settled in the log phase). */
  writeRecord: boolean;
  recordTtlMs: number;
}

export interface DimOutcome {
  remaining: number;
  resetMs: number;
}

export interface DecideResult {
  allowed: boolean;
  /** A reservation for this request id is already in flight (refused, nothing written). */
  duplicate: boolean;
  /** Index of the dimension that refused (the one asking the longest wait), -1 if allowed. */
  failIndex: number;
  retryMs: number;
  dims: DimOutcome[];
}

export type SettleMode = 'refund' | 'actual' | 'keep' | 'rollback';

export interface SettleArgs {
  recordKey: string;
  stateKey: string;
  slotKey: string;
  requestId: string;
  dims: readonly DimSpec[];
  mode: SettleMode;
  /** Weighted actual tokens (mode 'actual'). */
  actualTokens: number;
}

// ---------------------------------------------------------------------------------------------

type Value = number | string | BucketState | Map<string, number> | Record<string, number>;
interface Entry {
  value: Value;
  expiresAt: number;
}

/** A tiny Redis-like store with expiry evaluated against the caller's `now`. */
export class MemoryStore {
  private readonly data = new Map<string, Entry>();
  private ops = 0;

  get(key: string, now: number): Value | undefined {
    const e = this.data.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.data.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key: string, value: Value, ttlMs: number, now: number): void {
    if (ttlMs <= 0) {
      this.data.delete(key);
      return;
    }
    this.data.set(key, { value, expiresAt: now + ttlMs });
    if (++this.ops % 4096 === 0) this.sweep(now);
  }
  /** Replace the value, keep the expiry. */
  replace(key: string, value: Value): void {
    const e = this.data.get(key);
    if (e) e.value = value;
  }
  del(key: string): void {
    this.data.delete(key);
  }
  size(): number {
    return this.data.size;
  }
  sweep(now: number): void {
    for (const [k, e] of this.data) if (e.expiresAt <= now) this.data.delete(k);
  }
  clear(): void {
    this.data.clear();
  }
}

function num(v: Value | undefined): number {
  return typeof v === 'number' ? v : 0;
}

const windowKey = (key: string, idx: number) => `${key}:${idx}`;

interface Pending {
  verdict: Verdict;
  write: () => void;
}

function checkDim(store: MemoryStore, d: DimSpec, now: number, cost: number, requestId: string, stateKey: string, slotKey: string): Pending {
  const key = `${stateKey}:${dimIdentity(d)}`;
  switch (d.alg) {
    case 'fw': {
      const k = windowKey(key, Math.floor(now / d.periodMs));
      const r = fixedWindow(num(store.get(k, now)), now, d.periodMs, d.limit, cost);
      return { verdict: r, write: () => cost !== 0 && store.set(k, r.next, r.ttlMs, now) };
    }
    case 'sw': {
      const idx = Math.floor(now / d.periodMs);
      const k = windowKey(key, idx);
      const r = slidingWindow(num(store.get(windowKey(key, idx - 1), now)), num(store.get(k, now)), now, d.periodMs, d.limit, cost);
      return { verdict: r, write: () => cost !== 0 && store.set(k, r.next, r.ttlMs, now) };
    }
    case 'tb': {
      const r = tokenBucket(store.get(key, now) as BucketState | undefined, now, d.periodMs, d.limit, cost);
      return { verdict: r, write: () => (r.next ? store.set(key, r.next, r.ttlMs, now) : store.del(key)) };
    }
    case 'gc': {
      const tat = store.get(key, now);
      const r = gcra(typeof tat === 'number' ? tat : undefined, now, d.periodMs, d.limit, cost);
      return { verdict: r, write: () => (r.next !== undefined ? store.set(key, r.next, r.ttlMs, now) : store.del(key)) };
    }
    case 'cc': {
      let set = store.get(slotKey, now) as Map<string, number> | undefined;
      if (set) for (const [m, exp] of set) if (exp <= now) set.delete(m);
      const r = concurrency(set ? set.size : 0, d.limit, d.periodMs);
      return {
        verdict: r,
        write: () => {
          if (!set) set = new Map();
          set.set(requestId, now + d.periodMs);
          store.set(slotKey, set, d.periodMs, now);
        },
      };
    }
  }
}

function costOf(d: DimSpec, tokens: number): number {
  return d.kind === 't' ? tokens : 1;
}

export function decideLocal(store: MemoryStore, a: DecideArgs, now: number): DecideResult {
  if (a.writeRecord && store.get(a.recordKey, now) !== undefined) {
    return { allowed: false, duplicate: true, failIndex: -1, retryMs: 1000, dims: a.dims.map(() => ({ remaining: 0, resetMs: 0 })) };
  }
  const pending = a.dims.map((d) => checkDim(store, d, now, costOf(d, a.tokens), a.requestId, a.stateKey, a.slotKey));
  let failIndex = -1;
  let retryMs = 0;
  pending.forEach((p, i) => {
    if (!p.verdict.allowed && p.verdict.retryMs > retryMs) {
      failIndex = i;
      retryMs = p.verdict.retryMs;
    }
  });
  const dims = pending.map((p) => ({ remaining: p.verdict.remaining, resetMs: p.verdict.resetMs }));
  if (failIndex >= 0) {
    // Nothing was debited: dimensions that would have admitted report their level before it.
    a.dims.forEach((d, i) => {
      if ((pending[i] as Pending).verdict.allowed) (dims[i] as DimOutcome).remaining += costOf(d, a.tokens);
    });
    return { allowed: false, duplicate: false, failIndex, retryMs, dims };
  }
  for (const p of pending) p.write();
  if (a.writeRecord) store.set(a.recordKey, { t: now, r: a.tokens }, a.recordTtlMs, now);
  return { allowed: true, duplicate: false, failIndex: -1, retryMs: 0, dims };
}

/** Apply a delta (units) to one dimension's state as it was debited at access time `t`. */
function adjustDim(store: MemoryStore, d: DimSpec, now: number, t: number, delta: number, requestId: string, stateKey: string, slotKey: string): void {
  const key = `${stateKey}:${dimIdentity(d)}`;
  switch (d.alg) {
    case 'fw':
    case 'sw': {
      // The window the reservation was debited in; gone = that window is over, nothing to do.
      const k = windowKey(key, Math.floor(t / d.periodMs));
      const cur = store.get(k, now);
      if (cur === undefined || delta === 0) return;
      store.replace(k, counterAdjust(num(cur), delta));
      return;
    }
    case 'tb': {
      if (delta === 0) return;
      const r = bucketAdjust(store.get(key, now) as BucketState | undefined, now, d.periodMs, d.limit, delta);
      if (r.next) store.set(key, r.next, r.ttlMs, now);
      else store.del(key);
      return;
    }
    case 'gc': {
      if (delta === 0) return;
      const tat = store.get(key, now);
      const r = gcraAdjust(typeof tat === 'number' ? tat : undefined, now, d.periodMs, d.limit, delta);
      if (r.next !== undefined) store.set(key, r.next, r.ttlMs, now);
      else store.del(key);
      return;
    }
    case 'cc': {
      const set = store.get(slotKey, now) as Map<string, number> | undefined;
      set?.delete(requestId);
      return;
    }
  }
}

/** Settle a reservation; false when there was none (already settled, expired, or never made). */
export function settleLocal(store: MemoryStore, a: SettleArgs, now: number): boolean {
  const rec = store.get(a.recordKey, now) as Record<string, number> | undefined;
  if (!rec) return false;
  const t = rec.t as number;
  const reserved = rec.r as number;
  for (const d of a.dims) {
    let delta = 0;
    if (d.kind === 't') {
      if (a.mode === 'refund' || a.mode === 'rollback') delta = -reserved;
      else if (a.mode === 'actual') delta = a.actualTokens - reserved;
    } else if (d.kind === 'r' && a.mode === 'rollback') delta = -1;
    adjustDim(store, d, now, t, delta, a.requestId, a.stateKey, a.slotKey);
  }
  store.del(a.recordKey);
  return true;
}
