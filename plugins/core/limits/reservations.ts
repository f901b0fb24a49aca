/**
 * Reservations made in Redis, remembered in the plugin-server process until the log phase
 * settles them.
 *
 * Settling needs what access reserved: the decision's time (which window each dimension was
 * debited in) and the reserved tokens. Kong runs every phase of a request on the node that
 * received it, and a node has one plugin server for a plugin, so the log phase finds the entry
 * that access left in this process. Keeping it here instead of in a Redis key saves the
 * costliest part of the decision script (a key created and expired per request: ~4 µs of Redis
 * time out of ~14 for four dimensions) and a GET + DEL in the settle script.
 *
 * What this gives up, documented in docs/plugins/llm-token-limit.md: a plugin server that
 * restarts between access and log cannot settle (the reservation is kept, as when a settle is
 * lost to a Redis outage, and a concurrency slot frees itself at its expiry), and the
 * duplicate-request-id check covers requests in flight on this node (request ids are generated
 * by llm-auth per request, so ids only repeat through a bug or a replay within one node).
 *
 * Entries expire after the reservation's lifetime (an unsettled reservation never outlives its
 * window) and the book is bounded, oldest entries first out, so a log phase that never comes
 * cannot grow it without limit. Time is passed in.
 */

export interface Reservation {
  /** The decision's time (ms, Redis TIME or the test override). */
  at: number;
  /** Weighted tokens reserved. */
  tokens: number;
}

interface Entry {
  reservation: Reservation | undefined; // undefined while the decision is in flight
  expiresAt: number;
}

export class ReservationBook {
  private readonly entries = new Map<string, Entry>();
  private claims = 0;

  constructor(readonly maxEntries = 200_000) {}

  /**
   * Claim `key` for a decision about to run. False when a live reservation (or a decision in
   * flight) already holds it: a duplicate request id.
   */
  claim(key: string, lifetimeMs: number, now: number): boolean {
    const e = this.entries.get(key);
    if (e && e.expiresAt > now) return false;
    if (e) this.entries.delete(key);
    this.entries.set(key, { reservation: undefined, expiresAt: now + lifetimeMs });
    if (this.entries.size > this.maxEntries || (++this.claims & 1023) === 0) this.trim(now);
    return true;
  }

  /** The decision admitted the request: remember what it reserved. */
  confirm(key: string, reservation: Reservation): void {
    const e = this.entries.get(key);
    if (e) e.reservation = reservation;
  }

  /** The decision refused the request or failed: nothing to settle. */
  release(key: string): void {
    this.entries.delete(key);
  }

  /** Remove and return the reservation to settle; undefined when none (settled, expired, never made). */
  take(key: string, now: number): Reservation | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    return e.expiresAt > now ? e.reservation : undefined;
  }

  size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drop expired entries at the head (oldest first), and the oldest beyond the bound; every 1024 claims. */
  private trim(now: number): void {
    for (const [k, e] of this.entries) {
      if (e.expiresAt > now && this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
  }
}
