/**
 * `last_used_at` of API keys, from the gateway's events: reads `auth` events (outcome allowed,
 * method api_key) from the `<prefix>events` stream and writes, per key, the latest use — batched,
 * at most one UPDATE per key per flush. Starts at the stream's end (`$`): uses before the control
 * plane started are not replayed. A dedicated connection (XREAD BLOCK) that never stops the API.
 */
import Redis from 'ioredis';
import { eventStreamKey, streamFieldsToEvent } from '../../../plugins/core/events';
import type { Db } from '../db';
import { keyRepo } from './keys.repository';

export class LastUsedTracker {
  private readonly redis: Redis;
  private lastId = '$';
  private pending = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly db: Db,
    private readonly blockMs = 1_000,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.redis.on('error', () => {});
  }

  /** Fix the starting point now (events after this call are counted). */
  async init(): Promise<void> {
    const last = (await this.redis.xrevrange(eventStreamKey(this.prefix), '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
    this.lastId = last[0]?.[0] ?? '0-0';
  }

  /** Read what is there (waiting up to blockMs), then write the batch. Returns keys updated. */
  async pollOnce(blockMs = this.blockMs): Promise<number> {
    const res = (await this.redis.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', eventStreamKey(this.prefix), this.lastId)) as Array<[string, Array<[string, string[]]>]> | null;
    for (const [, entries] of res ?? []) {
      for (const [id, fields] of entries) {
        this.lastId = id;
        const e = streamFieldsToEvent(fields);
        if (e.type !== 'auth' || e.outcome !== 'allowed' || !e.key_id) continue;
        const ts = Number(e.ts);
        if (!Number.isFinite(ts)) continue;
        if ((this.pending.get(e.key_id) ?? 0) < ts) this.pending.set(e.key_id, ts);
      }
    }
    return this.flush();
  }

  async flush(): Promise<number> {
    const batch = [...this.pending];
    this.pending.clear();
    for (const [keyId, ts] of batch) await keyRepo.touchLastUsed(this.db, keyId, new Date(ts));
    return batch.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      try {
        if (this.lastId === '$') await this.init();
      } catch {
        /* Redis down: retry below */
      }
      while (this.running) {
        try {
          await this.pollOnce();
        } catch {
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    })();
  }

  async close(): Promise<void> {
    this.running = false;
    this.redis.disconnect();
    await this.loop?.catch(() => undefined);
  }
}
