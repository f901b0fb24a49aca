/**
 * API-key records in Redis (written by the control plane) behind the in-process cache, and the
 * revocation subscriber. Both live in module-level registries: plugin instances are replaced on
 * every config push and own nothing that needs closing.
 *
 * One subscriber connection per (Redis settings, prefix); it fans each message out to every
 * cache of that prefix. A message is a key hash (drop it) or `*` (drop everything). When the
 * subscriber reconnects, caches are cleared: messages published while it was away are lost.
 */
import type Redis from 'ioredis';
import { keyRecordRedisKey, parseKeyRecord, revocationChannel, type KeyRecord } from '../core/keys';
import { getRedis, redisRegistryKey, type RedisClient, type RedisSettings } from '../core/redis/client';
import { callRedis } from '../core/redis/fallback';
import { KeyCache } from './keycache';

interface Subscription {
  conn: RedisClient;
  caches: Set<KeyCache>;
  ready: Promise<void>;
  messages: number;
}

const subscriptions = new Map<string, Subscription>();
const caches = new Map<string, KeyCache>();
const inflight = new Map<string, Promise<KeyLookup>>();

function subscriptionFor(settings: RedisSettings, prefix: string): Subscription {
  const id = redisRegistryKey(settings) + '|' + prefix;
  let sub = subscriptions.get(id);
  if (sub) return sub;
  const conn = (getRedis(settings) as Redis).duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined });
  conn.on('error', () => {});
  const channel = revocationChannel(prefix);
  const s: Subscription = { conn, caches: new Set(), ready: Promise.resolve(), messages: 0 };
  let readyOnce = false;
  s.ready = new Promise<void>((resolve) => {
    conn.on('ready', () => {
      // ioredis re-subscribes on reconnect; anything published meanwhile was missed.
      if (readyOnce) for (const c of s.caches) c.clear();
      readyOnce = true;
      resolve();
    });
  });
  conn.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    s.messages++;
    for (const c of s.caches) {
      if (message === '*') c.clear();
      else c.drop(message.trim().toLowerCase());
    }
  });
  conn.subscribe(channel).catch(() => {});
  subscriptions.set(id, s);
  return s;
}

export interface KeyStoreOptions {
  maxEntries: number;
  ttlMs: number;
  negativeTtlMs: number;
}

export type KeyLookup =
  | { status: 'found'; record: KeyRecord; cached: boolean }
  | { status: 'unknown'; cached: boolean }
  | { status: 'unavailable' };

export class KeyStore {
  readonly cache: KeyCache;
  private readonly redis: RedisClient;
  private readonly subscription: Subscription;
  private readonly storeId: string;

  constructor(readonly settings: RedisSettings, readonly prefix: string, readonly opts: KeyStoreOptions) {
    this.redis = getRedis(settings);
    this.subscription = subscriptionFor(settings, prefix);
    const cacheId = redisRegistryKey(settings) + '|' + prefix + '|' + opts.maxEntries;
    this.storeId = redisRegistryKey(settings) + '|' + prefix;
    let cache = caches.get(cacheId);
    if (!cache) {
      cache = new KeyCache(opts.maxEntries);
      caches.set(cacheId, cache);
      this.subscription.caches.add(cache);
    }
    this.cache = cache;
  }

  /** Resolves once the revocation subscription is live (tests). */
  subscribed(): Promise<void> {
    return this.subscription.ready;
  }

  async lookup(hash: string, now: number): Promise<KeyLookup> {
    const hit = this.cache.get(hash, now, this.opts.ttlMs, this.opts.negativeTtlMs);
    if (hit.hit) return hit.record ? { status: 'found', record: hit.record, cached: true } : { status: 'unknown', cached: true };
    // Concurrent misses for one key share a single Redis GET.
    const id = `${this.storeId}|${hash}`;
    const pending = inflight.get(id);
    if (pending) return pending;
    const p = this.fetch(hash, now).finally(() => inflight.delete(id));
    inflight.set(id, p);
    return p;
  }

  private async fetch(hash: string, now: number): Promise<KeyLookup> {
    const epoch = this.cache.begin();
    let raw: string | null;
    try {
      raw = (await callRedis(this.redis, (r) => r.get(keyRecordRedisKey(this.prefix, hash)))).value;
    } catch {
      return { status: 'unavailable' };
    }
    const record = parseKeyRecord(raw) ?? null;
    this.cache.set(hash, record, now, epoch);
    return record ? { status: 'found', record, cached: false } : { status: 'unknown', cached: false };
  }
}

/** Close subscriber connections (tests and shutdown only). */
export async function closeKeyStores(): Promise<void> {
  const all = [...subscriptions.values()];
  subscriptions.clear();
  caches.clear();
  await Promise.all(all.map((s) => s.conn.quit().catch(() => s.conn.disconnect())));
}
