/**
 * Adapts the shipped kong/kong.yml (written for docker compose: upstream `mock-llm`, Redis
 * `redis`) to this machine for `npm run dev` and tests: services pointing at the compose mock go
 * to the local mock, plugin Redis settings to the local Redis — or, without Redis, every plugin
 * that has a `policy` field switches to its in-process `local` policy.
 */
import type { DeclarativeConfig } from '../test/harness/kong-host/api';

export interface LocalizeOptions {
  upstreamUrl: string;
  /** undefined = no Redis here. */
  redisUrl?: string;
}

export function visitPlugins(config: DeclarativeConfig, fn: (plugin: Record<string, unknown>) => void): void {
  const lists: unknown[] = [config.plugins];
  for (const s of (config.services ?? []) as Array<Record<string, unknown>>) {
    lists.push(s.plugins);
    for (const r of (s.routes ?? []) as Array<Record<string, unknown>>) lists.push(r.plugins);
  }
  for (const r of (config.routes ?? []) as Array<Record<string, unknown>>) lists.push(r.plugins);
  for (const list of lists) for (const p of (Array.isArray(list) ? list : []) as Array<Record<string, unknown>>) fn(p);
}

export function localizeConfig(source: DeclarativeConfig, opts: LocalizeOptions): DeclarativeConfig {
  const config = structuredClone(source);
  for (const s of (config.services ?? []) as Array<Record<string, unknown>>) {
    if (typeof s.url === 'string' && /\/\/mock-llm(:\d+)?/.test(s.url)) {
      const u = new URL(s.url);
      s.url = `${opts.upstreamUrl}${u.pathname === '/' ? '' : u.pathname}`;
    }
  }
  const redis = opts.redisUrl ? new URL(opts.redisUrl) : undefined;
  visitPlugins(config, (p) => {
    const cfg = p.config as Record<string, unknown> | undefined;
    if (!cfg) return;
    const r = cfg.redis as Record<string, unknown> | undefined;
    if (r && redis) {
      r.host = redis.hostname;
      r.port = Number(redis.port || 6379);
    }
    if (!redis && 'policy' in cfg) cfg.policy = 'local';
    if (!redis && r) delete cfg.redis;
    // Event writers: `events: { redis_host, redis_port }`; without Redis, events are off.
    const ev = cfg.events as Record<string, unknown> | undefined;
    if (ev && 'redis_host' in ev) {
      if (redis) {
        ev.redis_host = redis.hostname;
        ev.redis_port = Number(redis.port || 6379);
      } else ev.enabled = false;
    }
  });
  return config;
}
