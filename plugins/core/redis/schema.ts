/**
 * The `redis` config record shared by the plugins that talk to Redis, and its conversion to
 * client settings (plugins/core/redis/client.ts). Kong sends unset fields as null.
 */
import { f, type KongField } from '../schema';
import type { RedisSettings } from './client';
import type { GatewayEvent } from '../events';
import { writeEvents } from './events';

export interface RedisConfig {
  url?: string | null;
  host?: string | null;
  port: number;
  password?: string | null;
  database: number;
  cluster_nodes?: string[] | null;
  connect_timeout_ms: number;
  command_timeout_ms: number;
  breaker_open_ms: number;
}

export interface RedisFieldDefaults {
  /** Omit for "no Redis unless configured" (llm-auth: static keys only). */
  host?: string;
  connect_timeout_ms: number;
  command_timeout_ms: number;
  commandTimeoutNote?: string;
  hostNote?: string;
  description?: string;
}

export function redisConfigField(d: RedisFieldDefaults): KongField {
  return f.record(
    {
      url: f.string({ referenceable: true, description: 'redis://[:password@]host:port/db (overrides host/port).' }),
      host: f.string({ ...(d.host !== undefined ? { default: d.host } : {}), description: d.hostNote ?? 'Redis host.' }),
      port: f.integer({ between: [1, 65535], default: 6379, description: 'Redis port.' }),
      password: f.string({ referenceable: true, encrypted: true, description: 'Redis password (vault reference recommended).' }),
      database: f.integer({ between: [0, 15], default: 0, description: 'Redis database.' }),
      cluster_nodes: f.array(f.string({ len_min: 3 }), { description: 'host:port seeds of a Redis Cluster (overrides url/host).' }),
      connect_timeout_ms: f.integer({ between: [1, 60_000], default: d.connect_timeout_ms, description: 'Connect timeout.' }),
      command_timeout_ms: f.integer({
        between: [1, 60_000],
        default: d.command_timeout_ms,
        description: d.commandTimeoutNote ?? 'Command timeout: a dead Redis costs at most this per request before the breaker opens.',
      }),
      breaker_open_ms: f.integer({ between: [0, 600_000], default: 1000, description: 'After a Redis failure, skip Redis for this long before probing again.' }),
    },
    { description: d.description ?? 'Redis connection.' },
  );
}

/** Whether a redis record names a server at all (llm-auth runs without Redis when it does not). */
export function redisConfigured(r: RedisConfig | null | undefined): boolean {
  return !!(r && (r.host || r.url || (r.cluster_nodes && r.cluster_nodes.length > 0)));
}

export function toRedisSettings(r: RedisConfig | null | undefined): RedisSettings {
  return {
    url: r?.url ?? undefined,
    host: r?.host ?? undefined,
    port: r?.port,
    password: r?.password ?? undefined,
    database: r?.database,
    cluster_nodes: r?.cluster_nodes && r.cluster_nodes.length > 0 ? r.cluster_nodes : undefined,
    connect_timeout_ms: r?.connect_timeout_ms,
    command_timeout_ms: r?.command_timeout_ms,
  };
}

/** The `events` record of plugins that only write events (llm-input-guard, llm-output-redact). */
export interface EventsConfig {
  enabled: boolean;
  redis_host: string;
  redis_port: number;
  redis_password?: string | null;
  redis_database: number;
  redis_key_prefix: string;
  maxlen: number;
}

export function eventsConfigField(what: string): KongField {
  return f.record({
    enabled: f.boolean({ default: false, description: `Write ${what} to the Redis stream \`<redis_key_prefix>events\`.` }),
    redis_host: f.string({ default: '127.0.0.1', description: 'Redis host.' }),
    redis_port: f.integer({ default: 6379, between: [1, 65535], description: 'Redis port.' }),
    redis_password: f.string({ referenceable: true, encrypted: true, description: 'Redis password (a vault reference).' }),
    redis_database: f.integer({ default: 0, between: [0, 15], description: 'Redis database.' }),
    redis_key_prefix: f.string({ default: 'llg:', len_min: 1, len_max: 64, description: 'Key prefix shared by the llm-* plugins.' }),
    maxlen: f.integer({ default: 100_000, gt: 0, description: 'Approximate bound of the events stream (XADD MAXLEN ~).' }),
  });
}

/** Hand events to the stream writer when enabled (fire-and-forget, off the request path). */
export function emitConfiguredEvents(cfg: EventsConfig, events: GatewayEvent[]): void {
  if (!cfg.enabled || events.length === 0) return;
  void writeEvents(
    { host: cfg.redis_host, port: cfg.redis_port, password: cfg.redis_password ?? undefined, database: cfg.redis_database },
    { prefix: cfg.redis_key_prefix, maxlen: cfg.maxlen },
    events,
  ).catch(() => {});
}
