/**
 * Delivery of API-key records to Redis, where llm-auth reads them: one JSON KeyRecord per key at
 * `<prefix>key:<sha256>`, and every changed hash published on `<prefix>keys:revoked` so gateway
 * caches drop it at once (revocation, rotation, scope or expiry changes; creation too, which
 * clears a cached negative answer). Postgres is the source of truth: when Redis is unreachable
 * the change is kept "dirty" and a full resync (records rewritten, strays deleted, `*`
 * published) is retried in the background until it succeeds.
 */
import Redis from 'ioredis';
import { keyRecordRedisKey, revocationChannel, type KeyRecord } from '../../../plugins/core/keys';
import type { StaticKeyRow } from '../config/render';

/** A key row as the Redis sync needs it: what the static-key render takes, plus revocation. */
export interface KeyRowLike extends StaticKeyRow {
  revoked_at: Date | null;
}

/** Revoked records are kept this long (a missing record is refused too). */
const REVOKED_TTL_MS = 7 * 86_400_000;

export function toKeyRecord(r: KeyRowLike): KeyRecord {
  return {
    v: 1,
    key_id: r.id,
    tenant_id: r.tenant_id,
    lineage_id: r.lineage_id,
    prefix: r.prefix,
    ...(r.scopes ? { scopes: r.scopes } : {}),
    expires_at: r.expires_at ? r.expires_at.getTime() : null,
    revoked: r.revoked_at !== null,
  };
}

export interface KeySync {
  readonly enabled: boolean;
  /** Write the records and publish their hashes. Never throws: failures mark the sync dirty. */
  write(rows: KeyRowLike[]): Promise<boolean>;
  /** Delete records of deleted keys and publish their hashes. */
  revokeHashes(hashes: string[]): Promise<boolean>;
  /** Rebuild Redis from Postgres: write all, delete strays, publish `*`. Throws on failure. */
  resync(): Promise<{ written: number; removed: number }>;
  status(): 'ok' | 'dirty' | 'disabled';
  close(): Promise<void>;
}

export class NoopKeySync implements KeySync {
  readonly enabled = false;
  async write(): Promise<boolean> {
    return false;
  }
  async revokeHashes(): Promise<boolean> {
    return false;
  }
  async resync(): Promise<{ written: number; removed: number }> {
    return { written: 0, removed: 0 };
  }
  status(): 'disabled' {
    return 'disabled';
  }
  async close(): Promise<void> {}
}

interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export class RedisKeySync implements KeySync {
  readonly enabled = true;
  private readonly redis: Redis;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly loadAll: () => Promise<KeyRowLike[]>,
    private readonly log: Log,
    private readonly retryMs = 2_000,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 2_000, enableOfflineQueue: true, lazyConnect: false });
    this.redis.on('error', () => {});
  }

  private markDirty(op: string, err: unknown): void {
    this.log.warn({ op, err_class: (err as Error)?.name ?? 'Error' }, 'key sync to Redis failed; full resync scheduled');
    this.dirty = true;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resync().catch(() => this.scheduleRetry());
    }, this.retryMs);
    this.timer.unref();
  }

  async write(rows: KeyRowLike[]): Promise<boolean> {
    if (!rows.length) return true;
    try {
      const multi = this.redis.multi();
      for (const r of rows) {
        const k = keyRecordRedisKey(this.prefix, r.hash);
        const v = JSON.stringify(toKeyRecord(r));
        if (r.revoked_at) multi.set(k, v, 'PX', REVOKED_TTL_MS);
        else multi.set(k, v);
      }
      for (const r of rows) multi.publish(revocationChannel(this.prefix), r.hash);
      const res = await multi.exec();
      const failed = res?.find(([e]) => e);
      if (!res || failed) throw failed?.[0] ?? new Error('transaction aborted');
      return true;
    } catch (err) {
      this.markDirty('write', err);
      return false;
    }
  }

  async revokeHashes(hashes: string[]): Promise<boolean> {
    if (!hashes.length) return true;
    try {
      const multi = this.redis.multi();
      multi.del(...hashes.map((h) => keyRecordRedisKey(this.prefix, h)));
      for (const h of hashes) multi.publish(revocationChannel(this.prefix), h);
      const res = await multi.exec();
      if (!res || res.some(([e]) => e)) throw new Error('transaction failed');
      return true;
    } catch (err) {
      this.markDirty('revoke', err);
      return false;
    }
  }

  async resync(): Promise<{ written: number; removed: number }> {
    const rows = await this.loadAll();
    const wanted = new Set(rows.map((r) => keyRecordRedisKey(this.prefix, r.hash)));
    const BATCH = 1_000;
    for (let i = 0; i < rows.length; i += BATCH) {
      const multi = this.redis.multi();
      for (const r of rows.slice(i, i + BATCH)) {
        const v = JSON.stringify(toKeyRecord(r));
        if (r.revoked_at) multi.set(keyRecordRedisKey(this.prefix, r.hash), v, 'PX', REVOKED_TTL_MS);
        else multi.set(keyRecordRedisKey(this.prefix, r.hash), v);
      }
      const res = await multi.exec();
      if (!res || res.some(([e]) => e)) throw new Error('resync write failed');
    }
    let removed = 0;
    const pattern = keyRecordRedisKey(this.prefix, '*');
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      const stray = keys.filter((k) => !wanted.has(k));
      if (stray.length) removed += await this.redis.del(...stray);
    } while (cursor !== '0');
    await this.redis.publish(revocationChannel(this.prefix), '*');
    this.dirty = false;
    this.log.info({ written: rows.length, removed }, 'key records resynced to Redis');
    return { written: rows.length, removed };
  }

  status(): 'ok' | 'dirty' {
    return this.dirty ? 'dirty' : 'ok';
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
