/**
 * Config loading (Kong's extra keys dropped, defaults filled) and the guard-event sink.
 */
import { makeEvent } from '../core/events';
import { emitConfiguredEvents } from '../core/redis/schema';
import { ownConfig } from '../core/schema';
import type { GuardEventFields } from './guard';
import { Schema, type GuardConfig } from './schema';

/** Validate Kong's config (its own extra keys dropped), fill defaults. Throws on invalid. */
export function loadConfig(raw: unknown): GuardConfig {
  const r = ownConfig<GuardConfig>(Schema, raw);
  if (!r.ok) throw new Error('invalid llm-input-guard config');
  return r.value;
}

/** Where guard events go; replaceable in tests. */
export interface GuardEventSink {
  emit(cfg: GuardConfig, requestId: string, fields: GuardEventFields): void;
}

export const redisEventSink: GuardEventSink = {
  emit(cfg, requestId, fields) {
    if (cfg.events.enabled) emitConfiguredEvents(cfg.events, [makeEvent('guard', Date.now(), requestId, { ...fields })]);
  },
};

let sink: GuardEventSink = redisEventSink;
export function setGuardEventSink(s: GuardEventSink): void {
  sink = s;
}
export function getGuardEventSink(): GuardEventSink {
  return sink;
}
