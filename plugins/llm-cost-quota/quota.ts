/**
 * The cost-quota engine, PDK-free: built once per plugin instance from its config; `admit` runs
 * in access (reserve worst case against every budget), `settle` in log. Time is a parameter.
 *
 * Access writes nothing to ctx.shared: the log phase rebuilds the subject from the same ctx key,
 * recomputes the same worst-case amount and settles the reservation recorded under the request
 * id (see store.ts).
 */
import { toRedisSettings } from '../core/redis/schema';
import type { LimitSubject, LlmDecision, LlmIdentity, LlmRequest, LlmUsage, ResolvedBudgets } from '../core/context';
import { gatewayError, unavailable, type GatewayError } from '../core/errors';
import { makeEvent, type GatewayEvent } from '../core/events';
import { formatUsd, usdToNano } from '../core/money';
import { isValidTimezone, secondsUntil } from '../core/periods';
import { callRedis, RedisUnavailableError } from '../core/redis/fallback';
import { getRedis, redisRegistryKey, type RedisSettings } from '../core/redis/client';
import { settleAction } from '../core/settle';
import type { BudgetsConfig } from '../core/tenancy';
import { BUDGET_LABEL, globalScope, tenantScope, type BudgetScope } from './budgets';
import { actualCostNano, buildPriceTable, worstCaseCostNano, type PriceTable } from './prices';
import type { CostQuotaConfig, PriceConfig } from './schema';
import { LocalCostStore, RedisCostStore, type CostStore, type Crossing, type ReserveResult, type SettleResult } from './store';

export const PLUGIN = 'llm-cost-quota';

/** What the plugin needs to know about a request, from `llm.request` or `llm.identity`. */
export interface QuotaSubject extends Omit<LimitSubject, 'limits' | 'input_tokens' | 'max_tokens' | 'n'> {
  endpoint?: string;
  feature?: string;
  input_tokens: number;
  max_tokens: number;
  n: number;
  from: 'request' | 'identity';
}

export type AdmitResult =
  | { kind: 'allow'; headers?: Record<string, string>; events: GatewayEvent[]; via: 'redis' | 'local' | 'none' }
  | { kind: 'deny'; error: GatewayError; reason: string; events: GatewayEvent[]; via: 'redis' | 'local' | 'none' };

export interface LogInput {
  subject: QuotaSubject;
  usage?: LlmUsage;
  decision?: LlmDecision;
  source?: string;
  status?: number;
  latency_ms?: number;
  upstream_latency_ms?: number;
}

export interface SettleOutcome {
  outcome: 'actual' | 'keep' | 'refund' | 'denied' | 'unpriced' | 'unreserved';
  cost_nano: number;
  reserved_nano: number;
  events: GatewayEvent[];
  via: 'redis' | 'local' | 'none';
  settle_failed?: boolean;
}

const localStores = new Map<string, LocalCostStore>();
/** The node-local store for these Redis settings + key prefix (module-level: outlives instances). */
export function localStoreFor(settings: RedisSettings, prefix: string): LocalCostStore {
  const k = `${redisRegistryKey(settings)}|${prefix}`;
  let s = localStores.get(k);
  if (!s) {
    s = new LocalCostStore();
    localStores.set(k, s);
  }
  return s;
}

function definedBudgets(b: unknown): ResolvedBudgets {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) if (v !== undefined && v !== null) out[k] = v;
  return out as ResolvedBudgets;
}

function budgetsConfigToNano(b: BudgetsConfig | undefined): ResolvedBudgets {
  if (!b) return {};
  const nano = (v: number | undefined) => (typeof v === 'number' ? usdToNano(v) : undefined);
  return definedBudgets({
    tenant_daily_nano: nano(b.tenant_daily_usd),
    tenant_monthly_nano: nano(b.tenant_monthly_usd),
    key_daily_nano: nano(b.key_daily_usd),
    key_monthly_nano: nano(b.key_monthly_usd),
    per_minute_nano: nano(b.per_minute_usd),
    thresholds_pct: Array.isArray(b.thresholds_pct) && b.thresholds_pct.length ? b.thresholds_pct : undefined,
  });
}

const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);

export interface Hooks {
  /** Told once per switch to the in-memory budgets (for a rate-limited log line). */
  onFallback?: (reason: string) => void;
}

export class CostQuota {
  readonly prices: PriceTable;
  readonly configBudgets: ResolvedBudgets;
  readonly redisSettings: RedisSettings;
  readonly local: LocalCostStore;
  private readonly globalDaily?: number;
  private readonly globalMonthly?: number;
  private readonly graceSec: number;

  constructor(readonly config: CostQuotaConfig, readonly hooks: Hooks = {}) {
    const dp = config.default_price;
    const defaultPrice = dp && typeof dp.input_per_1m === 'number' && typeof dp.output_per_1m === 'number' ? (dp as PriceConfig) : undefined;
    if (config.unknown_model === 'default_price' && !defaultPrice) throw new Error('invalid config: unknown_model = default_price needs default_price.input_per_1m and output_per_1m');
    this.prices = buildPriceTable(config.prices ?? {}, config.aliases ?? {}, config.unknown_model === 'default_price' ? defaultPrice : undefined);
    this.configBudgets = budgetsConfigToNano(config.budgets);
    this.redisSettings = toRedisSettings(config.redis);
    this.local = localStoreFor(this.redisSettings, config.redis_key_prefix);
    this.globalDaily = config.global_daily_usd ? usdToNano(config.global_daily_usd) : undefined;
    this.globalMonthly = config.global_monthly_usd ? usdToNano(config.global_monthly_usd) : undefined;
    this.graceSec = Math.max(config.reservation_ttl_sec, 3600);
  }

  /** The subject from the raw ctx values (already decoded). */
  subject(req: LlmRequest | undefined, identity: LlmIdentity | undefined): QuotaSubject | undefined {
    const src = req ?? identity;
    if (!src) return undefined;
    const tz = typeof src.timezone === 'string' && isValidTimezone(src.timezone) ? src.timezone : this.config.timezone;
    const budgets = { ...this.configBudgets, ...definedBudgets(src.budgets) };
    if (req) {
      return {
        request_id: req.request_id,
        tenant_id: req.tenant_id,
        key_id: req.key_id,
        lineage_id: req.lineage_id ?? req.key_id,
        tier: req.tier,
        timezone: tz,
        budgets,
        model: req.model,
        endpoint: req.endpoint,
        feature: req.feature,
        stream: req.stream,
        input_tokens: num(req.input_tokens, 0),
        max_tokens: num(req.max_tokens, 0),
        n: Math.max(1, num(req.n, 1)),
        from: 'request',
      };
    }
    const id = identity!;
    return {
      request_id: id.request_id,
      tenant_id: id.tenant_id,
      key_id: id.key_id,
      lineage_id: id.lineage_id ?? id.key_id,
      tier: id.tier,
      timezone: tz,
      budgets,
      model: this.config.default_model,
      feature: id.feature,
      input_tokens: this.config.default_input_tokens,
      max_tokens: this.config.default_max_tokens,
      n: 1,
      from: 'identity',
    };
  }

  private scopes(s: QuotaSubject, now: number): { tenant: BudgetScope; global?: BudgetScope } {
    const thresholds = this.config.thresholds_pct?.length ? this.config.thresholds_pct : [80, 100];
    return {
      tenant: tenantScope({ prefix: this.config.redis_key_prefix, tenant_id: s.tenant_id, lineage_id: s.lineage_id, budgets: s.budgets, timezone: s.timezone, now, default_thresholds: thresholds, grace_sec: this.graceSec }),
      global: globalScope({ prefix: this.config.redis_key_prefix, daily_nano: this.globalDaily, monthly_nano: this.globalMonthly, timezone: this.config.global_timezone, now, thresholds, grace_sec: this.graceSec }),
    };
  }

  /** Worst-case amount reserved for this subject, or undefined when the model has no price. */
  reservedAmount(s: QuotaSubject): { nano: number; model: string } | undefined {
    const p = this.prices.lookup(s.model);
    if (!p) return undefined;
    return { nano: worstCaseCostNano(p.price, s.input_tokens, s.max_tokens, s.n), model: p.model };
  }

  private async run<T>(op: (store: CostStore) => Promise<T>): Promise<{ value: T; via: 'redis' | 'local' }> {
    const redis = getRedis(this.redisSettings);
    return callRedis(redis, (r) => op(new RedisCostStore(r)), {
      fallback: this.config.fault_tolerant ? () => op(this.local) : undefined,
      openMs: this.config.redis.breaker_open_ms,
      onFallback: (reason) => this.hooks.onFallback?.(reason),
    });
  }

  private baseFields(s: QuotaSubject): Record<string, string | number | boolean | undefined> {
    return { plugin: PLUGIN, tenant_id: s.tenant_id, key_id: s.key_id, lineage_id: s.lineage_id, tier: s.tier };
  }

  private crossingEvents(s: QuotaSubject, crossings: Crossing[], now: number): GatewayEvent[] {
    return crossings.map((c) =>
      makeEvent('budget_threshold', now, s.request_id, {
        ...this.baseFields(s),
        ...(c.name.startsWith('global') ? { tenant_id: undefined, key_id: undefined, lineage_id: undefined, tier: undefined } : {}),
        ...(c.name.startsWith('tenant') ? { key_id: undefined, lineage_id: undefined } : {}),
        budget: c.name,
        period: c.period_id,
        pct: c.pct,
        spent_nano: c.spent_nano,
        cap_nano: c.cap_nano,
        trigger: c.trigger,
      }),
    );
  }

  async admit(s: QuotaSubject, now: number): Promise<AdmitResult> {
    const shadow = this.config.mode === 'shadow';
    const amount = this.reservedAmount(s);
    if (!amount) {
      const ev = makeEvent('limit', now, s.request_id, { ...this.baseFields(s), reason: 'unknown_model', model: s.model, shadow });
      if (shadow) return { kind: 'allow', events: [ev], via: 'none' };
      return { kind: 'deny', reason: 'unknown_model', error: gatewayError('forbidden', 'model_not_allowed', 'The requested model is not available.', { param: 'model' }), events: [ev], via: 'none' };
    }
    const { tenant, global } = this.scopes(s, now);
    const events: GatewayEvent[] = [];
    let via: 'redis' | 'local' | 'none' = 'none';
    const reserveIn = async (scope: BudgetScope): Promise<ReserveResult | undefined> => {
      if (scope.counters.length === 0) return undefined;
      const r = await this.run((store) => store.reserve({ scope, request_id: s.request_id, cost_nano: amount.nano, shadow, record_ttl_sec: this.config.reservation_ttl_sec }));
      if (via !== 'local') via = r.via;
      if (r.via === 'redis') scope.counters.forEach((c, i) => this.local.observe(c, r.value.spent[i] ?? 0));
      events.push(...this.crossingEvents(s, r.value.crossings, now));
      return r.value;
    };
    const denial = (scope: BudgetScope, r: ReserveResult): AdmitResult => {
      const b = scope.counters[r.denied_index]!;
      const label = BUDGET_LABEL[b.name];
      events.push(makeEvent('limit', now, s.request_id, { ...this.baseFields(s), reason: 'budget_exceeded', budget: b.name, period: b.period_id, cost_nano: amount.nano, cap_nano: b.cap_nano, shadow }));
      return {
        kind: 'deny',
        reason: `budget_exceeded:${b.name}`,
        error: gatewayError('quota_exceeded', 'insufficient_quota', `You exceeded your ${label}. Please retry after it resets.`, { retryAfter: secondsUntil(b.period_end_ms, now) }),
        events,
        via,
      };
    };

    let tr: ReserveResult | undefined;
    try {
      tr = await reserveIn(tenant);
    } catch (e) {
      if (e instanceof RedisUnavailableError) return { kind: 'deny', reason: 'redis_unavailable', error: unavailable(), events, via: 'none' };
      throw e;
    }
    if (tr && !tr.admitted) return denial(tenant, tr);
    if (tr && shadow && tr.denied_index >= 0) denial(tenant, tr); // event only
    let gr: ReserveResult | undefined;
    if (global) {
      try {
        gr = await reserveIn(global);
      } catch (e) {
        await this.release(tenant, s, amount.nano);
        if (e instanceof RedisUnavailableError) return { kind: 'deny', reason: 'redis_unavailable', error: unavailable(), events, via: 'none' };
        throw e;
      }
      if (gr && !gr.admitted) {
        if (tr) await this.release(tenant, s, amount.nano);
        return denial(global, gr);
      }
      if (gr && shadow && gr.denied_index >= 0) denial(global, gr);
    }
    let headers: Record<string, string> | undefined;
    if (this.config.budget_headers) {
      let best: { remaining: number; end: number } | undefined;
      for (const [scope, r] of [[tenant, tr], [global, gr]] as const) {
        if (!scope || !r) continue;
        scope.counters.forEach((c, i) => {
          const remaining = Math.max(0, c.cap_nano - (r.spent[i] ?? 0));
          if (!best || remaining < best.remaining) best = { remaining, end: c.period_end_ms };
        });
      }
      if (best) headers = { 'x-llm-budget-remaining-usd': formatUsd(best.remaining), 'x-llm-budget-reset': String(secondsUntil(best.end, now)) };
    }
    return { kind: 'allow', headers, events, via };
  }

  /** Undo a tenant reservation when the global budget refused (best effort). */
  private async release(scope: BudgetScope, s: QuotaSubject, nano: number): Promise<void> {
    if (scope.counters.length === 0) return;
    try {
      await this.run((store) => store.settle({ base: scope.base, request_id: s.request_id, reserved_nano: nano, actual_nano: 0 }));
    } catch {
      /* the reservation stays until its record expires: charged, never over the cap */
    }
  }

  async settle(i: LogInput, now: number): Promise<SettleOutcome> {
    const s = i.subject;
    const shadow = this.config.mode === 'shadow';
    const amount = this.reservedAmount(s);
    const events: GatewayEvent[] = [];
    const usageEvent = (o: Omit<SettleOutcome, 'events'>) => {
      if (!this.config.usage_events) return;
      events.push(
        makeEvent('usage', now, s.request_id, {
          ...this.baseFields(s),
          model: i.usage?.model ?? s.model,
          price_model: amount?.model,
          endpoint: s.endpoint,
          feature: s.feature,
          stream: s.stream,
          status: i.status,
          source: i.source,
          outcome: o.outcome,
          prompt_tokens: i.usage?.prompt_tokens,
          completion_tokens: i.usage?.completion_tokens,
          cached_tokens: i.usage?.cached_tokens,
          cost_nano: o.cost_nano,
          reserved_nano: o.reserved_nano,
          latency_ms: i.latency_ms,
          upstream_latency_ms: i.upstream_latency_ms,
          via: o.via,
          settle_failed: o.settle_failed,
          shadow,
        }),
      );
    };
    const finish = (o: Omit<SettleOutcome, 'events'>): SettleOutcome => {
      usageEvent(o);
      return { ...o, events };
    };
    // Its own refusal reserved nothing — except a 503 after a Redis timeout, whose reservation
    // may have been applied without its reply arriving: refund it if it is there.
    const ownDenial = i.decision?.plugin === PLUGIN;
    if (ownDenial && i.decision?.reason !== 'redis_unavailable') return finish({ outcome: 'denied', cost_nano: 0, reserved_nano: 0, via: 'none' });
    if (!amount) return finish({ outcome: 'unpriced', cost_nano: 0, reserved_nano: 0, via: 'none' });

    const action = ownDenial ? ({ action: 'refund' } as const) : settleAction({ source: i.source, status: i.status, usage: i.usage });
    let actual: number;
    if (action.action === 'refund') actual = 0;
    else if (action.action === 'keep') actual = amount.nano;
    else {
      const u = action.usage;
      const price = (u.model ? this.prices.lookup(u.model) : undefined) ?? this.prices.lookup(s.model);
      actual = price ? actualCostNano(price.price, u) : amount.nano;
    }
    const { tenant, global } = this.scopes(s, now);
    let found = false;
    let via: 'redis' | 'local' | 'none' = 'none';
    let settleFailed = false;
    for (const scope of [tenant, global]) {
      if (!scope || scope.counters.length === 0) continue;
      const input = { base: scope.base, request_id: s.request_id, reserved_nano: amount.nano, actual_nano: actual };
      let r: { value: SettleResult; via: 'redis' | 'local' };
      try {
        r = await this.run((store) => store.settle(input));
      } catch (e) {
        if (!(e instanceof RedisUnavailableError)) throw e;
        // Strict mode and Redis down: the reservation stays (charged at worst case, never over a cap).
        settleFailed = true;
        continue;
      }
      // Reserved in memory while Redis was down, settled now that it is back.
      if (!r.value.found && r.via === 'redis') {
        const l = await this.local.settle(input);
        if (l.found) r = { value: l, via: 'local' };
      }
      if (r.value.found) {
        found = true;
        if (via !== 'local') via = r.via;
      }
      events.push(...this.crossingEvents(s, r.value.crossings, now));
    }
    const noBudgets = tenant.counters.length === 0 && !global;
    // Counters not updated (the reservation stays, never over a cap); the event still tells the ledger what was billed.
    if (settleFailed && !found) return finish({ outcome: ownDenial ? 'denied' : action.action, cost_nano: actual, reserved_nano: ownDenial ? 0 : amount.nano, via: 'none', settle_failed: true });
    if (ownDenial) return finish({ outcome: 'denied', cost_nano: 0, reserved_nano: found ? amount.nano : 0, via });
    if (!found && !noBudgets) return finish({ outcome: 'unreserved', cost_nano: actual, reserved_nano: 0, via });
    return finish({ outcome: action.action, cost_nano: actual, reserved_nano: amount.nano, via });
  }
}
