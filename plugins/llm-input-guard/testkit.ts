/**
 * Test helpers for the pure core (used by the *.test.ts files and the bench; no vitest import).
 */
import { encodeCtx, CTX, type LlmIdentity, type LlmRequest } from '../core/context';
import type { MultiMap } from '../core/pdk';
import { loadConfig } from './config';
import { inspect, prepare, preflight, type Decision, type InspectOptions, type Prepared } from './guard';

export function guardWith(config: Record<string, unknown> = {}): Prepared {
  return prepare(loadConfig({ require_identity: false, ...config }));
}

export interface RunOptions {
  path?: string;
  headers?: MultiMap;
  identity?: Partial<LlmIdentity> | string;
  /** Leave Content-Length out (a chunked / HTTP/2 body). */
  noContentLength?: boolean;
  /** What Kong's getRawBody returned (default: the body). */
  rawOverride?: Buffer | undefined | 'undefined';
  inspect?: InspectOptions;
  method?: string;
}

export function identity(over: Partial<LlmIdentity> = {}): LlmIdentity {
  return {
    v: 1,
    request_id: 'req-1',
    tenant_id: 'tenant-a',
    tier: 'balanced',
    method: 'api_key',
    key_id: 'key-1',
    lineage_id: 'lin-1',
    key_prefix: 'lg_live_AbCd',
    scopes: { models: ['*'], features: [] },
    timezone: 'UTC',
    limits: { requests_per_minute: 60 },
    budgets: { tenant_daily_nano: 1_000_000_000 },
    input: {},
    ...over,
  };
}

/** Run preflight + inspect the way the handler does; returns the decision and whether the body was read. */
export function run(p: Prepared, body: unknown, o: RunOptions = {}): Decision & { read: boolean } {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers: MultiMap = o.headers ?? { 'content-type': ['application/json'] };
  if (!o.headers && !o.noContentLength) headers['content-length'] = [String(raw.length)];
  if (o.noContentLength && !o.headers) headers['transfer-encoding'] = ['chunked'];
  let identityRaw: unknown;
  if (typeof o.identity === 'string') identityRaw = o.identity;
  else if (o.identity) identityRaw = encodeCtx(CTX.identity, identity(o.identity));
  const pre = preflight(p, { headers, path: o.path ?? '/v1/chat/completions', identityRaw, method: o.method ?? 'POST' });
  if (pre.kind !== 'read') return { ...pre.decision, read: false };
  const got = o.rawOverride === 'undefined' ? undefined : (o.rawOverride ?? raw);
  return { ...inspect(p, pre.ctx, got, o.inspect), read: true };
}

export function requestOf(d: Decision): LlmRequest {
  if (d.action !== 'pass') throw new Error(`expected pass, got ${d.action} ${d.reason} ${JSON.stringify(d.error.body)}`);
  return JSON.parse(d.request) as LlmRequest;
}

export function upstreamBody(d: Decision): Record<string, unknown> | undefined {
  if (d.action !== 'pass') throw new Error('expected pass');
  return d.body === undefined ? undefined : (JSON.parse(d.body) as Record<string, unknown>);
}

export function chat(content: string | unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra };
}
