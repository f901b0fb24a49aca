/**
 * The events contract: one Redis Stream (`<prefix>events`), entries `{v, type, ts, request_id, ...}`.
 * Metadata only — never prompt/completion content, keys or tokens. Tenant and key ids are
 * internal ids (clear); end-user ids are HMAC-hashed before they get here.
 */

export type EventType = 'auth' | 'usage' | 'limit' | 'budget_threshold' | 'guard' | 'redact';

export type EventValue = string | number | boolean | undefined;

export interface GatewayEvent {
  v: 1;
  type: EventType;
  /** Milliseconds since the epoch. */
  ts: number;
  request_id: string;
  [field: string]: EventValue;
}

export function makeEvent(type: EventType, now: number, requestId: string, fields: Record<string, EventValue>): GatewayEvent {
  return { ...fields, v: 1, type, ts: now, request_id: requestId };
}

/** Field/value pairs for XADD; undefined fields are left out. */
export function eventToStreamFields(event: GatewayEvent): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(event)) {
    if (v === undefined) continue;
    out.push(k, String(v));
  }
  return out;
}

export function streamFieldsToEvent(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
  return out;
}

export interface EventSink {
  emit(event: GatewayEvent): void;
}

/** Stream key for a prefix (`llg:` → `llg:events`). */
export function eventStreamKey(prefix: string): string {
  return `${prefix}events`;
}
