/**
 * The in-process API-key cache (pure: time is a parameter). Bounded LRU of key hash → record
 * (or "unknown"), each entry stamped with the time it was fetched; the caller's TTLs decide
 * freshness, and a found record never outlives its own `expires_at`.
 */
import { LRUCache } from 'lru-cache';
import type { KeyRecord } from '../core/keys';

interface Entry {
  record: KeyRecord | null;
  fetchedAt: number;
}

export type CacheAnswer = { hit: true; record: KeyRecord | null } | { hit: false };

export class KeyCache {
  private readonly lru: LRUCache<string, Entry>;
  /** Bumped by every drop/clear so a lookup that started before a revocation cannot re-insert. */
  private epoch = 0;
  private readonly dropped = new Map<string, number>();

  constructor(readonly maxEntries: number) {
    this.lru = new LRUCache<string, Entry>({ max: maxEntries });
  }

  get(hash: string, now: number, ttlMs: number, negativeTtlMs: number): CacheAnswer {
    const e = this.lru.get(hash);
    if (!e) return { hit: false };
    const ttl = e.record ? ttlMs : negativeTtlMs;
    if (now - e.fetchedAt >= ttl) {
      this.lru.delete(hash);
      return { hit: false };
    }
    return { hit: true, record: e.record };
  }

  /** Current epoch; pass it back to `set` so a fetch that raced a revocation is not cached. */
  begin(): number {
    return this.epoch;
  }

  set(hash: string, record: KeyRecord | null, fetchedAt: number, epoch: number): void {
    if (epoch !== this.epoch) {
      // A drop (or clear) at epoch D happened after a fetch begun at epoch e < D: do not cache it.
      if ((this.dropped.get(hash) ?? -1) > epoch || (this.dropped.get('*') ?? -1) > epoch) return;
    }
    this.lru.set(hash, { record, fetchedAt });
  }

  drop(hash: string): void {
    this.epoch++;
    this.lru.delete(hash);
    this.dropped.set(hash, this.epoch);
    if (this.dropped.size > 1000) {
      this.dropped.clear();
      this.dropped.set('*', this.epoch);
    }
  }

  clear(): void {
    this.epoch++;
    this.lru.clear();
    this.dropped.clear();
    this.dropped.set('*', this.epoch);
  }

  get size(): number {
    return this.lru.size;
  }
}
