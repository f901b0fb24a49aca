/**
 * Which budget counters apply to a request, with their Redis keys, caps, period ids and ends,
 * and threshold levels. Pure: `now` is a parameter.
 *
 * Keys (one hash per budget and period; all of a tenant share the `{tenant}` hash tag):
 *   <prefix>{<tenant>}:cost:tenant:d:<YYYY-MM-DD>       daily tenant budget
 *   <prefix>{<tenant>}:cost:tenant:m:<YYYY-MM>          monthly tenant budget
 *   <prefix>{<tenant>}:cost:key:<lineage>:d:<YYYY-MM-DD> daily key budget (per key lineage)
 *   <prefix>{<tenant>}:cost:key:<lineage>:m:<YYYY-MM>   monthly key budget
 *   <prefix>{<tenant>}:cost:tenant:min:m<epoch-minute>   spend per minute
 *   <prefix>{<tenant>}:cost:req:<request id>            reservation records of one request id
 *   <prefix>{*global*}:cost:global:d|m:<id>, <prefix>{*global*}:cost:req:<request id>
 * Hash fields: s = spend incl. reservations in flight, c = settled spend, cap, lv = threshold
 * levels, b = budget name, p = period id, t<pct> = threshold already announced.
 */
import type { ResolvedBudgets } from '../core/context';
import { calendarPeriods, minutePeriod } from '../core/periods';

export type BudgetName = 'key_daily' | 'key_monthly' | 'tenant_daily' | 'tenant_monthly' | 'tenant_per_minute' | 'global_daily' | 'global_monthly';

export const BUDGET_LABEL: Record<BudgetName, string> = {
  key_daily: 'daily key budget',
  key_monthly: 'monthly key budget',
  tenant_daily: 'daily tenant budget',
  tenant_monthly: 'monthly tenant budget',
  tenant_per_minute: 'per-minute spend limit',
  global_daily: 'daily global budget',
  global_monthly: 'monthly global budget',
};

export interface BudgetCounter {
  name: BudgetName;
  key: string;
  cap_nano: number;
  period_id: string;
  period_end_ms: number;
  /** Unix seconds at which the counter key expires (period end + grace for late settles). */
  expire_at_sec: number;
  /** [pct, level in nano] pairs; empty for the per-minute limit. */
  thresholds: Array<[number, number]>;
}

export interface BudgetScope {
  /** Hash-tagged prefix of this scope's keys: `<prefix>{tenant}:cost:`. */
  base: string;
  counters: BudgetCounter[];
}

export const GLOBAL_TAG = '*global*';

/** Ids go into key names and into the reservation record's newline-separated key list. */
export function keyPart(id: string): string {
  return id.replace(/[\r\n]/g, '_');
}

export function scopeBase(prefix: string, tag: string): string {
  return `${prefix}{${keyPart(tag)}}:cost:`;
}

export function reservationKey(base: string, requestId: string): string {
  return `${base}req:${keyPart(requestId)}`;
}

/** floor(cap × pct / 100), exact. */
export function thresholdLevel(capNano: number, pct: number): number {
  return Number((BigInt(capNano) * BigInt(pct)) / 100n);
}

function thresholdsFor(cap: number, pcts: readonly number[]): Array<[number, number]> {
  const uniq = [...new Set(pcts.filter((p) => Number.isInteger(p) && p >= 1 && p <= 100))].sort((a, b) => a - b);
  return uniq.map((p) => [p, thresholdLevel(cap, p)]);
}

const validCap = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

export interface TenantBudgetInput {
  prefix: string;
  tenant_id: string;
  lineage_id?: string;
  budgets: ResolvedBudgets;
  timezone: string;
  now: number;
  /** Thresholds when the budgets carry none. */
  default_thresholds: readonly number[];
  /** Extra seconds a counter outlives its period (late settles still land). */
  grace_sec: number;
}

export function tenantScope(i: TenantBudgetInput): BudgetScope {
  const base = scopeBase(i.prefix, i.tenant_id);
  const b = i.budgets;
  const pcts = Array.isArray(b.thresholds_pct) && b.thresholds_pct.length > 0 ? b.thresholds_pct : i.default_thresholds;
  const counters: BudgetCounter[] = [];
  const anyCalendar = [b.key_daily_nano, b.key_monthly_nano, b.tenant_daily_nano, b.tenant_monthly_nano].some(validCap);
  const cal = anyCalendar ? calendarPeriods(i.now, i.timezone) : undefined;
  const add = (name: BudgetName, key: string, cap: number, period: { id: string; end_ms: number }, grace: number, withThresholds: boolean) =>
    counters.push({
      name,
      key,
      cap_nano: cap,
      period_id: period.id,
      period_end_ms: period.end_ms,
      expire_at_sec: Math.ceil(period.end_ms / 1000) + grace,
      thresholds: withThresholds ? thresholdsFor(cap, pcts) : [],
    });
  if (cal) {
    const lineage = i.lineage_id === undefined ? undefined : keyPart(i.lineage_id);
    if (lineage !== undefined && lineage !== '') {
      if (validCap(b.key_daily_nano)) add('key_daily', `${base}key:${lineage}:d:${cal.day.id}`, b.key_daily_nano, cal.day, i.grace_sec, true);
      if (validCap(b.key_monthly_nano)) add('key_monthly', `${base}key:${lineage}:m:${cal.month.id}`, b.key_monthly_nano, cal.month, i.grace_sec, true);
    }
    if (validCap(b.tenant_daily_nano)) add('tenant_daily', `${base}tenant:d:${cal.day.id}`, b.tenant_daily_nano, cal.day, i.grace_sec, true);
    if (validCap(b.tenant_monthly_nano)) add('tenant_monthly', `${base}tenant:m:${cal.month.id}`, b.tenant_monthly_nano, cal.month, i.grace_sec, true);
  }
  if (validCap(b.per_minute_nano)) {
    const m = minutePeriod(i.now);
    add('tenant_per_minute', `${base}tenant:min:${m.id}`, b.per_minute_nano, m, 120, false);
  }
  return { base, counters };
}

export interface GlobalBudgetInput {
  prefix: string;
  daily_nano?: number;
  monthly_nano?: number;
  timezone: string;
  now: number;
  thresholds: readonly number[];
  grace_sec: number;
}

export function globalScope(i: GlobalBudgetInput): BudgetScope | undefined {
  if (!validCap(i.daily_nano) && !validCap(i.monthly_nano)) return undefined;
  const base = scopeBase(i.prefix, GLOBAL_TAG);
  const cal = calendarPeriods(i.now, i.timezone);
  const counters: BudgetCounter[] = [];
  if (validCap(i.daily_nano))
    counters.push({ name: 'global_daily', key: `${base}global:d:${cal.day.id}`, cap_nano: i.daily_nano, period_id: cal.day.id, period_end_ms: cal.day.end_ms, expire_at_sec: Math.ceil(cal.day.end_ms / 1000) + i.grace_sec, thresholds: thresholdsFor(i.daily_nano, i.thresholds) });
  if (validCap(i.monthly_nano))
    counters.push({ name: 'global_monthly', key: `${base}global:m:${cal.month.id}`, cap_nano: i.monthly_nano, period_id: cal.month.id, period_end_ms: cal.month.end_ms, expire_at_sec: Math.ceil(cal.month.end_ms / 1000) + i.grace_sec, thresholds: thresholdsFor(i.monthly_nano, i.thresholds) });
  return { base, counters };
}
