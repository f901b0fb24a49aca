/**
 * OAuth 2.0 opaque access tokens through RFC 7662 introspection: POST token to the endpoint
 * with client credentials (HTTP Basic), bounded result cache keyed by the token's SHA-256, an
 * active result never cached past the token's `exp`. Endpoint down, timeout or a non-200 →
 * "unavailable" (the caller answers 503, never allows).
 */
import { LRUCache } from 'lru-cache';
import { sha256Hex } from '../core/hash';
import type { IntrospectionConfig } from './schema';

export type IntrospectionOutcome =
  | { status: 'active'; claims: Record<string, unknown>; cached: boolean }
  | { status: 'inactive'; cached: boolean }
  | { status: 'unavailable' };

interface Entry {
  active: boolean;
  claims?: Record<string, unknown>;
  until: number;
}

const caches = new Map<string, LRUCache<string, Entry>>();

function cacheFor(cfg: IntrospectionConfig): LRUCache<string, Entry> {
  const id = JSON.stringify([cfg.endpoint, cfg.client_id, cfg.cache_max_entries]);
  let c = caches.get(id);
  if (!c) {
    c = new LRUCache<string, Entry>({ max: cfg.cache_max_entries });
    caches.set(id, c);
  }
  return c;
}

/** How long an introspection answer may be cached (pure). */
export function cacheUntil(body: Record<string, unknown>, now: number, cfg: Pick<IntrospectionConfig, 'cache_ttl_seconds' | 'negative_ttl_seconds'>): number {
  if (body.active !== true) return now + cfg.negative_ttl_seconds * 1000;
  const until = now + cfg.cache_ttl_seconds * 1000;
  return typeof body.exp === 'number' ? Math.min(until, body.exp * 1000) : until;
}

/** Is an introspection answer an active, unexpired, already-valid token (pure)? */
export function isActive(body: Record<string, unknown>, now: number): boolean {
  if (body.active !== true) return false;
  if (typeof body.exp === 'number' && body.exp * 1000 <= now) return false;
  if (typeof body.nbf === 'number' && body.nbf * 1000 > now) return false;
  return true;
}

export async function introspect(cfg: IntrospectionConfig, token: string, now: number, fetchImpl: typeof fetch = fetch): Promise<IntrospectionOutcome> {
  if (!cfg.endpoint) return { status: 'unavailable' };
  const cache = cacheFor(cfg);
  const id = sha256Hex(token);
  const hit = cache.get(id);
  if (hit && hit.until > now) {
    if (hit.active && hit.claims && isActive(hit.claims, now)) return { status: 'active', claims: hit.claims, cached: true };
    return { status: 'inactive', cached: true };
  }
  let body: Record<string, unknown>;
  try {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (cfg.client_id) {
      const basic = Buffer.from(`${encodeURIComponent(cfg.client_id)}:${encodeURIComponent(cfg.client_secret ?? '')}`).toString('base64');
      headers.authorization = `Basic ${basic}`;
    }
    const res = await fetchImpl(cfg.endpoint, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal: AbortSignal.timeout(cfg.timeout_ms),
      redirect: 'manual',
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      return { status: 'unavailable' };
    }
    const parsed: unknown = await res.json();
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { status: 'unavailable' };
    body = parsed as Record<string, unknown>;
  } catch {
    return { status: 'unavailable' };
  }
  const active = isActive(body, now);
  cache.set(id, { active, claims: active ? body : undefined, until: cacheUntil(active ? body : { active: false }, now, cfg) });
  return active ? { status: 'active', claims: body, cached: false } : { status: 'inactive', cached: false };
}
