/**
 * Config loading (Kong's extra keys dropped, defaults filled) and the guard-event sink.
 */
import { makeEvent } from '../core/events';
import { writeEvents } from '../core/redis/events';
import { validateKongConfig } from '../core/schema';
import type { GuardEventFields } from './guard';
import { FIELDS, Schema, type GuardConfig } from './schema';

/** Validate Kong's config (its own extra keys dropped), fill defaults. Throws on invalid. */
export function loadConfig(raw: unknown): GuardConfig {
  const src = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(FIELDS)) if (k in src) own[k] = src[k];
  const r = validateKongConfig<GuardConfig>(Schema, own);
  if (!r.ok) throw new Error('invalid llm-input-guard config');
  return r.value;
}

/** Where guard events go; replaceable in tests. */
export interface GuardEventSink {
  emit(cfg: GuardConfig, requestId: string, fields: GuardEventFields): void;
}

export const redisEventSink: GuardEventSink = {
  emit(cfg, requestId, fields) {
    if (!cfg.events.enabled) return;
    const e = makeEvent('guard', Date.now(), requestId, { ...fields });
    void writeEvents(
      { host: cfg.events.redis_host, port: cfg.events.redis_port, password: cfg.events.redis_password, database: cfg.events.redis_database },
      { prefix: cfg.events.redis_key_prefix, maxlen: cfg.events.maxlen },
      [e],
    ).catch(() => {});
  },
};

let sink: GuardEventSink = redisEventSink;
export function setGuardEventSink(s: GuardEventSink): void {
  sink = s;
}
export function getGuardEventSink(): GuardEventSink {
  return sink;
}
