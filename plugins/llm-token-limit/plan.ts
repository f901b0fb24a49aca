/**
 * Pure planning for llm-token-limit: which dimensions apply to a request, their Redis keys, the
 * token reservation, and the answers (headers, 429 body, event) built from a decision.
 * No PDK, no I/O. The log phase calls `planRequest` again with the same ctx value and gets the
 * same keys: access writes nothing to ctx.
 */
import { createHash } from 'node:crypto';
import type { LimitSubject, LlmIdentity, LlmRequest, ResolvedLimits } from '../core/context';
import { gatewayError, type GatewayError } from '../core/errors';
import { makeEvent, type GatewayEvent } from '../core/events';
import { ALG_CODE } from '../core/limits/algorithms';
import type { DecideResult, DimSpec } from '../core/limits/engine';
import type { Algorithm, TokenLimitConfig } from './schema';

export const PLUGIN = 'llm-token-limit';

type LimitField = Exclude<keyof ResolvedLimits, 'algorithm'>;

interface DimDef {
  field: LimitField;
  kind: 'r' | 't' | 'c';
  periodMs: number;
  label: string;
}

const S = 1000;
const DIM_DEFS: DimDef[] = [
  { field: 'requests_per_second', kind: 'r', periodMs: S, label: 'requests per second' },
  { field: 'requests_per_minute', kind: 'r', periodMs: 60 * S, label: 'requests per minute' },
  { field: 'requests_per_hour', kind: 'r', periodMs: 3600 * S, label: 'requests per hour' },
  { field: 'requests_per_day', kind: 'r', periodMs: 86_400 * S, label: 'requests per day' },
  { field: 'tokens_per_minute', kind: 't', periodMs: 60 * S, label: 'tokens per minute' },
  { field: 'tokens_per_hour', kind: 't', periodMs: 3600 * S, label: 'tokens per hour' },
  { field: 'tokens_per_day', kind: 't', periodMs: 86_400 * S, label: 'tokens per day' },
  { field: 'concurrent_requests', kind: 'c', periodMs: 0, label: 'concurrent requests' },
];

export interface PlannedDim extends DimSpec {
  /** The limit's config name, e.g. `requests_per_minute`. */
  name: LimitField;
  label: string;
  algorithm: Algorithm | 'concurrency';
  scope: 'tenant' | 'global';
}

export interface CallPlan {
  scope: 'tenant' | 'global';
  recordKey: string;
  /** Hash with one field per window/bucket dimension. */
  stateKey: string;
  /** Sorted set of concurrency slots. */
  slotKey: string;
  /** Shared between requests with the same limits: never mutated. */
  dims: readonly PlannedDim[];
  writeRecord: boolean;
  recordTtlMs: number;
}

export type SubjectSource = 'request' | 'identity' | 'config';

export interface Subject extends LimitSubject {
  source: SubjectSource;
}

export interface Plan {
  subject: Subject;
  /** Token weight of the model (1 when none matches). */
  weight: number;
  /** Weighted token reservation: ceil((input + max_tokens × n) × weight). */
  tokens: number;
  tenant: CallPlan;
  global?: CallPlan;
}

// ---------------------------------------------------------------------------------------------

export function subjectFromRequest(r: LlmRequest): Subject {
  return {
    source: 'request',
    request_id: r.request_id,
    tenant_id: r.tenant_id,
    key_id: r.key_id,
    lineage_id: r.lineage_id,
    tier: r.tier,
    timezone: r.timezone,
    limits: r.limits,
    budgets: r.budgets,
    model: r.model,
    input_tokens: r.input_tokens,
    max_tokens: r.max_tokens,
    n: r.n,
    stream: r.stream,
  };
}

export function subjectFromIdentity(i: LlmIdentity, cfg: Pick<TokenLimitConfig, 'default_input_tokens' | 'default_max_tokens'>): Subject {
  return {
    source: 'identity',
    request_id: i.request_id,
    tenant_id: i.tenant_id,
    key_id: i.key_id,
    lineage_id: i.lineage_id,
    tier: i.tier,
    timezone: i.timezone,
    limits: i.limits,
    budgets: i.budgets,
    input_tokens: cfg.default_input_tokens,
    max_tokens: cfg.default_max_tokens,
    n: 1,
  };
}

/** Standalone (no llm-auth): one set of counters for the route, the plugin's own limits. */
export function subjectFromConfig(cfg: Pick<TokenLimitConfig, 'limits' | 'default_input_tokens' | 'default_max_tokens'>): Subject {
  return {
    source: 'config',
    request_id: '',
    tenant_id: '_standalone',
    timezone: 'UTC',
    limits: cfg.limits ?? {},
    budgets: {},
    input_tokens: cfg.default_input_tokens,
    max_tokens: cfg.default_max_tokens,
    n: 1,
  };
}

// ---------------------------------------------------------------------------------------------

export type WeightMatcher = (model: string | undefined) => number;

/** Exact model name first, then the longest matching glob (`*` = any run), else 1. */
export function compileWeights(weights: Record<string, number>): WeightMatcher {
  const exact = new Map<string, number>();
  const globs: Array<{ re: RegExp; len: number; w: number }> = [];
  for (const [pattern, w] of Object.entries(weights ?? {})) {
    if (!pattern.includes('*')) exact.set(pattern, w);
    else globs.push({ re: new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$'), len: pattern.length, w });
  }
  globs.sort((a, b) => b.len - a.len);
  return (model) => {
    if (model === undefined) return 1;
    const e = exact.get(model);
    if (e !== undefined) return e;
    for (const g of globs) if (g.re.test(model)) return g.w;
    return 1;
  };
}

export function weighTokens(raw: number, weight: number): number {
  const v = Math.ceil(raw * weight - 1e-9);
  return v > 0 ? v : 0;
}

const part = (s: string) => encodeURIComponent(s);

/** Request ids come from a client header when present: bound their size in keys. */
export function requestKeyId(requestId: string): string {
  return requestId.length <= 100 ? part(requestId) : createHash('sha256').update(requestId).digest('hex');
}

function scopeSuffix(cfg: Pick<TokenLimitConfig, 'scope' | 'route_id'>, s: Subject): string {
  let out = '';
  const scope = cfg.scope ?? ['tenant'];
  if (scope.includes('lineage')) out += `k=${part(s.lineage_id ?? s.key_id ?? '-')}:`;
  if (scope.includes('route')) out += `r=${part(cfg.route_id ?? '-')}:`;
  if (scope.includes('model')) out += `m=${part(s.model ?? '-')}:`;
  return out;
}

interface DimsPlan {
  dims: readonly PlannedDim[];
  recordTtlMs: number;
}

/**
 * Dimensions per distinct set of limits, reused across requests: tenants share a handful of
 * tiers, so this saves rebuilding the same objects (and, in ../core/limits/redis.ts, their
 * script arguments) on every request. Entries are frozen; the cache is bounded.
 */
const dimsCache = new Map<string, DimsPlan>();
const DIMS_CACHE_MAX = 10_000;

function planDims(scope: 'tenant' | 'global', limits: ResolvedLimits, algorithm: Algorithm, slotMs: number, canSettle: boolean): DimsPlan {
  let sig = `${scope}|${algorithm}|${slotMs}|${canSettle ? 1 : 0}`;
  for (const def of DIM_DEFS) {
    const v = limits[def.field];
    sig += typeof v === 'number' && v > 0 ? `|${v}` : '|';
  }
  const hit = dimsCache.get(sig);
  if (hit) return hit;
  const dims: PlannedDim[] = [];
  let recordTtl = 60_000;
  for (const def of DIM_DEFS) {
    const limit = limits[def.field];
    if (typeof limit !== 'number' || !(limit > 0)) continue;
    if (def.kind === 'c' && !canSettle) continue; // a slot nobody can free: not offered standalone
    if (def.kind === 'c') {
      dims.push(Object.freeze({ name: def.field, label: def.label, kind: 'c', alg: 'cc', limit, periodMs: slotMs, algorithm: 'concurrency', scope }));
      recordTtl = Math.max(recordTtl, slotMs);
    } else {
      const alg = ALG_CODE[algorithm];
      dims.push(Object.freeze({ name: def.field, label: def.label, kind: def.kind, alg, limit, periodMs: def.periodMs, algorithm, scope }));
      if (def.kind === 't') recordTtl = Math.max(recordTtl, def.periodMs);
    }
  }
  const planned: DimsPlan = { dims: Object.freeze(dims), recordTtlMs: recordTtl };
  if (dimsCache.size >= DIMS_CACHE_MAX) dimsCache.clear();
  dimsCache.set(sig, planned);
  return planned;
}

function buildCall(
  scope: 'tenant' | 'global',
  base: string,
  limits: ResolvedLimits,
  cfg: Pick<TokenLimitConfig, 'algorithm' | 'concurrency_slot_ttl_sec'>,
  requestId: string,
  canSettle: boolean,
  forceRecord: boolean,
): CallPlan {
  // An identity from elsewhere may carry an unknown algorithm name: fall back to the config's.
  const named = limits.algorithm && limits.algorithm in ALG_CODE ? limits.algorithm : undefined;
  const algorithm: Algorithm = named ?? (cfg.algorithm in ALG_CODE ? cfg.algorithm : 'sliding_window');
  const slotMs = (cfg.concurrency_slot_ttl_sec ?? 600) * 1000;
  const { dims, recordTtlMs } = planDims(scope, limits, algorithm, slotMs, canSettle);
  const needsRecord = canSettle && (forceRecord || dims.some((d) => d.kind !== 'r'));
  return { scope, recordKey: `${base}res:${requestKeyId(requestId)}`, stateKey: `${base}state`, slotKey: `${base}cc`, dims, writeRecord: needsRecord, recordTtlMs };
}

export function planRequest(cfg: TokenLimitConfig, subject: Subject, weights: WeightMatcher): Plan {
  const prefix = cfg.redis_key_prefix ?? 'llg:';
  const weight = weights(subject.model);
  const raw = (subject.input_tokens ?? 0) + (subject.max_tokens ?? 0) * (subject.n ?? 1);
  const tokens = weighTokens(raw, weight);
  const canSettle = subject.request_id !== '';
  const hasGlobal = !!cfg.global_limits && Object.values(cfg.global_limits).some((v) => typeof v === 'number');
  const suffix = scopeSuffix(cfg, subject);
  const tenant = buildCall('tenant', `${prefix}{${subject.tenant_id}}:rl:${suffix}`, subject.limits ?? {}, cfg, subject.request_id, canSettle, hasGlobal);
  let global: CallPlan | undefined;
  if (hasGlobal) {
    const routePart = (cfg.scope ?? []).includes('route') ? `r=${part(cfg.route_id ?? '-')}:` : '';
    global = buildCall('global', `${prefix}{global}:rl:${routePart}`, cfg.global_limits as ResolvedLimits, cfg, subject.request_id, canSettle, false);
    if (global.dims.length === 0) global = undefined;
  }
  return { subject, weight, tokens, tenant, global };
}

// ---------------------------------------------------------------------------------------------
// Answers

export interface DimReport {
  dim: PlannedDim;
  remaining: number;
  resetMs: number;
}

export function reports(call: CallPlan, result: DecideResult): DimReport[] {
  return call.dims.map((dim, i) => ({ dim, remaining: result.dims[i]?.remaining ?? 0, resetMs: result.dims[i]?.resetMs ?? 0 }));
}

/** OpenAI's reset format: `20ms`, `1s`, `6m0s`, `1h2m3s`. */
export function openAiDuration(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 1000) return `${v}ms`;
  const totalS = Math.ceil(v / 1000);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

function tightest(list: DimReport[]): DimReport | undefined {
  let best: DimReport | undefined;
  for (const r of list) {
    if (!best || r.remaining / r.dim.limit < best.remaining / best.dim.limit) best = r;
  }
  return best;
}

/** Headers for an admitted or refused request; `failed` = the dimension that refused. */
export function limitHeaders(all: DimReport[], failed?: DimReport, retryMs?: number): Record<string, string> {
  const h: Record<string, string> = {};
  const windows = all.filter((r) => r.dim.kind !== 'c');
  const main = failed ?? tightest(windows.length > 0 ? windows : all);
  if (main) {
    h['ratelimit-limit'] = String(main.dim.limit);
    h['ratelimit-remaining'] = String(failed ? 0 : main.remaining);
    h['ratelimit-reset'] = String(Math.ceil((failed && retryMs !== undefined ? retryMs : main.resetMs) / 1000));
  }
  const req = tightest(all.filter((r) => r.dim.kind === 'r'));
  if (req) {
    h['x-ratelimit-limit-requests'] = String(req.dim.limit);
    h['x-ratelimit-remaining-requests'] = String(req === failed ? 0 : req.remaining);
    h['x-ratelimit-reset-requests'] = openAiDuration(req === failed && retryMs !== undefined ? retryMs : req.resetMs);
  }
  const tok = tightest(all.filter((r) => r.dim.kind === 't'));
  if (tok) {
    h['x-ratelimit-limit-tokens'] = String(tok.dim.limit);
    h['x-ratelimit-remaining-tokens'] = String(tok === failed ? 0 : tok.remaining);
    h['x-ratelimit-reset-tokens'] = openAiDuration(tok === failed && retryMs !== undefined ? retryMs : tok.resetMs);
  }
  return h;
}

export function denialError(failed: PlannedDim | undefined, retryMs: number, headers: Record<string, string>): GatewayError {
  const what = failed ? `${failed.label}${failed.scope === 'global' ? ' (shared by all tenants)' : ''}` : 'concurrent requests';
  const secs = Math.max(1, Math.ceil(retryMs / 1000));
  return gatewayError('rate_limited', 'rate_limit_exceeded', `Rate limit reached for ${what}. Please retry after ${secs} second${secs === 1 ? '' : 's'}.`, {
    headers,
    retryAfter: secs,
  });
}

export function limitEvent(
  now: number,
  plan: Plan,
  cfg: Pick<TokenLimitConfig, 'mode' | 'route_id'>,
  failed: PlannedDim | undefined,
  reason: 'limit_exceeded' | 'duplicate_request_id',
  retryMs: number,
  via: 'redis' | 'local',
): GatewayEvent {
  const s = plan.subject;
  return makeEvent('limit', now, s.request_id || '-', {
    plugin: PLUGIN,
    reason,
    mode: cfg.mode,
    tenant_id: s.tenant_id,
    key_id: s.key_id,
    lineage_id: s.lineage_id,
    model: s.model,
    route_id: cfg.route_id,
    dimension: failed?.name ?? 'concurrent_requests',
    scope: failed?.scope ?? 'tenant',
    algorithm: failed?.algorithm,
    limit: failed?.limit,
    tokens: plan.tokens,
    retry_after_ms: retryMs,
    via,
  });
}
