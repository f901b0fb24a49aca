/**
 * Module-level registry of Redis clients keyed by their settings.
 *
 * Kong never tells a plugin instance it is closed (there is no close hook), and instances are
 * replaced on every config push: anything that must be closed lives here, not on an instance.
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis';

export interface RedisSettings {
  /** `redis://[:password@]host:port/db`; ignored when cluster_nodes is set. */
  url?: string;
  host?: string;
  port?: number;
  password?: string;
  database?: number;
  /** `host:port` seeds of a Redis Cluster. */
  cluster_nodes?: string[];
  connect_timeout_ms?: number;
  command_timeout_ms?: number;
}

export type RedisClient = Redis | Cluster;

const clients = new Map<string, RedisClient>();

function baseOptions(s: RedisSettings): RedisOptions {
  return {
    connectTimeout: s.connect_timeout_ms ?? 500,
    commandTimeout: s.command_timeout_ms ?? 250,
    // Fail fast while disconnected instead of queueing requests behind a dead Redis.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
  };
}

export function redisRegistryKey(s: RedisSettings): string {
  return JSON.stringify([s.url, s.host, s.port, s.password ? 'pw' : '', s.password, s.database, s.cluster_nodes, s.connect_timeout_ms, s.command_timeout_ms]);
}

/**
 * Per settings object, the client last returned for it (hot path: saves serialising the settings
 * on every call; settings objects are built once per config and never mutated). Only trusted
 * while the registry still holds that client under that key (closeAllRedis empties it).
 */
const bySettings = new WeakMap<RedisSettings, { key: string; client: RedisClient }>();

/** The shared client for these settings, created on first use. */
export function getRedis(s: RedisSettings): RedisClient {
  const hit = bySettings.get(s);
  if (hit && clients.get(hit.key) === hit.client) return hit.client;
  const key = redisRegistryKey(s);
  let client = clients.get(key);
  if (client) {
    bySettings.set(s, { key, client });
    return client;
  }
  const opts = baseOptions(s);
  if (s.cluster_nodes && s.cluster_nodes.length > 0) {
    client = new Cluster(
      s.cluster_nodes.map((n) => {
        const [host, port] = n.split(':');
        return { host: host as string, port: Number(port) };
      }),
      { redisOptions: { ...opts, password: s.password }, enableOfflineQueue: true, clusterRetryStrategy: (t) => Math.min(50 * t, 1000) },
    );
  } else if (s.url) {
    client = new Redis(s.url, opts);
  } else {
    client = new Redis({ ...opts, host: s.host ?? '127.0.0.1', port: s.port ?? 6379, password: s.password, db: s.database ?? 0 });
  }
  // Errors surface on commands; an unhandled 'error' event would crash the plugin server.
  client.on('error', () => {});
  clients.set(key, client);
  bySettings.set(s, { key, client });
  return client;
}

/**
 * Write coalescing. Every command is one socket write, and Redis answers each write it reads
 * with one write of its own: at gateway concurrency these syscalls cost both sides as much as a
 * short script does (~8 µs of Redis's time per command in bench/limiter). Corking the socket until the end of the current tick turns the commands issued
 * in that tick into one write (and Redis's replies into one write back). Batches are capped so
 * Redis can start on the first commands while Node is still producing the next ones.
 * Cluster clients are left alone (one socket per node, chosen after the command is built).
 */
export const COALESCE_MAX_BATCH = 16;

interface CorkedBatch {
  stream: NodeJS.WritableStream & { cork(): void; uncork(): void };
  commands: number;
}

const corked = new WeakMap<object, CorkedBatch>();

export function coalesceWrites(redis: RedisClient): void {
  if (!(redis instanceof Redis) || redis.status !== 'ready') return;
  const stream = redis.stream as unknown as CorkedBatch['stream'] | undefined;
  if (!stream) return;
  const batch = corked.get(stream);
  if (batch) {
    if (++batch.commands >= COALESCE_MAX_BATCH) {
      batch.commands = 1;
      stream.uncork();
      stream.cork();
    }
    return;
  }
  stream.cork();
  corked.set(stream, { stream, commands: 1 });
  process.nextTick(() => {
    corked.delete(stream);
    stream.uncork();
  });
}

/** Close every client (tests and graceful shutdown only). */
export async function closeAllRedis(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map((c) => c.quit().catch(() => c.disconnect())));
}
