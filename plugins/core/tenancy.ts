/**
 * Tiers and tenants as the control plane renders them into llm-auth's config, and their
 * resolution into what the identity carries (tier merged with the tenant's overrides).
 * Money is entered in dollars (people write configs) and resolved to nano-dollars once.
 */
import { f, type KongField } from './schema';
import { usdToNano } from './money';
import type { InputLimits, ResolvedBudgets, ResolvedLimits } from './context';

const positiveInt = (description: string): KongField => f.integer({ gt: 0, description });
const positiveUsd = (description: string): KongField => f.number({ gt: 0, description });

export const LIMIT_FIELDS = {
  requests_per_second: positiveInt('Requests per second.'),
  requests_per_minute: positiveInt('Requests per minute.'),
  requests_per_hour: positiveInt('Requests per hour.'),
  requests_per_day: positiveInt('Requests per day.'),
  tokens_per_minute: positiveInt('Tokens (input estimate + max output) per minute.'),
  tokens_per_hour: positiveInt('Tokens per hour.'),
  tokens_per_day: positiveInt('Tokens per day.'),
  concurrent_requests: positiveInt('Requests in flight at once.'),
  algorithm: f.string({ one_of: ['sliding_window', 'fixed_window', 'token_bucket', 'gcra'], description: 'Window algorithm for request and token limits.' }),
} satisfies Record<string, KongField>;

export const BUDGET_FIELDS = {
  tenant_daily_usd: positiveUsd('Spend cap per tenant per calendar day (tenant timezone), USD.'),
  tenant_monthly_usd: positiveUsd('Spend cap per tenant per calendar month, USD.'),
  key_daily_usd: positiveUsd('Spend cap per API-key lineage per day, USD.'),
  key_monthly_usd: positiveUsd('Spend cap per API-key lineage per month, USD.'),
  per_minute_usd: positiveUsd('Optional spend-per-minute cap, USD.'),
  thresholds_pct: f.array(f.integer({ between: [1, 100] }), { description: 'Percentages of a cap that emit one budget_threshold event per period.' }),
} satisfies Record<string, KongField>;

export const INPUT_FIELDS = {
  max_message_chars: positiveInt('Characters per message.'),
  max_turns: positiveInt('Messages per request.'),
  max_input_tokens: positiveInt('Input tokens per request (real tokenizer).'),
  max_body_bytes: positiveInt('Request body bytes.'),
  default_max_tokens: positiveInt('max_tokens injected when the client sends none.'),
  max_tokens_cap: positiveInt('Largest max_tokens allowed.'),
  max_n: positiveInt('Largest n (choices) allowed.'),
} satisfies Record<string, KongField>;

/**
 * Current IANA names that ICU (Node 20) lists only under their legacy alias
 * (`supportedValuesOf` says Asia/Calcutta, people write Asia/Kolkata). Added when Intl accepts them.
 */
const CURRENT_IANA_NAMES = [
  'Africa/Asmara', 'America/Argentina/Buenos_Aires', 'America/Argentina/Catamarca', 'America/Argentina/Cordoba',
  'America/Argentina/Jujuy', 'America/Argentina/Mendoza', 'America/Atikokan', 'America/Indiana/Indianapolis',
  'America/Kentucky/Louisville', 'America/Nuuk', 'Asia/Ho_Chi_Minh', 'Asia/Kathmandu', 'Asia/Kolkata', 'Asia/Yangon',
  'Atlantic/Faroe', 'Europe/Kyiv', 'Pacific/Chuuk', 'Pacific/Kanton', 'Pacific/Pohnpei', 'Etc/UTC', 'Etc/GMT',
];

/** IANA zones Kong's schema accepts (one_of makes real Kong refuse an unknown timezone too). */
export const TIMEZONES: string[] = (() => {
  const zones = new Set<string>((Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone'));
  zones.add('UTC');
  for (const z of CURRENT_IANA_NAMES) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: z });
      zones.add(z);
    } catch {
      /* this ICU does not know it */
    }
  }
  return [...zones].sort();
})();

export const timezoneField = (o: { default?: string; required?: boolean } = {}): KongField =>
  f.string({ one_of: TIMEZONES, description: 'IANA timezone for calendar budget periods.', ...o });

export const TIER_FIELD: KongField = f.record({
  name: f.string({ required: true, len_min: 1, len_max: 64 }),
  limits: f.record(LIMIT_FIELDS),
  budgets: f.record(BUDGET_FIELDS),
  input: f.record(INPUT_FIELDS),
  models: f.array(f.string({ len_min: 1 }), { default: ['*'], description: 'Allowed models (exact or glob).' }),
  features: f.array(f.string({ len_min: 1 }), { default: [], description: 'Allowed features.' }),
});

export const TENANT_FIELD: KongField = f.record({
  id: f.string({ required: true, len_min: 1, len_max: 128 }),
  tier: f.string({ required: true, len_min: 1 }),
  timezone: timezoneField({ default: 'UTC' }),
  disabled: f.boolean({ default: false }),
  limits: f.record(LIMIT_FIELDS, { description: 'Overrides of the tier limits.' }),
  budgets: f.record(BUDGET_FIELDS, { description: 'Overrides of the tier budgets.' }),
  input: f.record(INPUT_FIELDS, { description: 'Overrides of the tier input limits.' }),
  models: f.array(f.string({ len_min: 1 }), { description: 'Replaces the tier model list when set.' }),
  features: f.array(f.string({ len_min: 1 }), { description: 'Replaces the tier feature list when set.' }),
  consumers: f.array(f.string({ len_min: 1 }), { default: [], description: 'Kong consumer usernames or custom_ids that act as this tenant.' }),
});

export interface TierLimitsConfig extends Omit<ResolvedLimits, never> {}
export interface BudgetsConfig {
  tenant_daily_usd?: number;
  tenant_monthly_usd?: number;
  key_daily_usd?: number;
  key_monthly_usd?: number;
  per_minute_usd?: number;
  thresholds_pct?: number[];
}
export interface TierConfig {
  name: string;
  limits?: ResolvedLimits;
  budgets?: BudgetsConfig;
  input?: InputLimits;
  models?: string[];
  features?: string[];
}
export interface TenantConfig {
  id: string;
  tier: string;
  timezone?: string;
  disabled?: boolean;
  limits?: ResolvedLimits;
  budgets?: BudgetsConfig;
  input?: InputLimits;
  models?: string[];
  features?: string[];
  consumers?: string[];
}

export interface ResolvedTenant {
  tenant_id: string;
  tier: string;
  timezone: string;
  disabled: boolean;
  limits: ResolvedLimits;
  budgets: ResolvedBudgets;
  input: InputLimits;
  scopes: { models: string[]; features: string[] };
}

/** Drop undefined/null so `{...tier, ...override}` only overrides what is set. */
function defined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) (out as Record<string, unknown>)[k] = v;
  return out;
}

function budgetsToNano(b: BudgetsConfig): ResolvedBudgets {
  const nano = (usd: number | undefined) => (usd === undefined ? undefined : usdToNano(usd));
  return defined<ResolvedBudgets>({
    tenant_daily_nano: nano(b.tenant_daily_usd),
    tenant_monthly_nano: nano(b.tenant_monthly_usd),
    key_daily_nano: nano(b.key_daily_usd),
    key_monthly_nano: nano(b.key_monthly_usd),
    per_minute_nano: nano(b.per_minute_usd),
    thresholds_pct: b.thresholds_pct ?? [80, 100],
  }) as ResolvedBudgets;
}

/** Tier merged with the tenant's overrides. Undefined when the tenant names an unknown tier. */
export function resolveTenant(tenant: TenantConfig, tiers: ReadonlyMap<string, TierConfig>): ResolvedTenant | undefined {
  const tier = tiers.get(tenant.tier);
  if (!tier) return undefined;
  return {
    tenant_id: tenant.id,
    tier: tier.name,
    timezone: tenant.timezone ?? 'UTC',
    disabled: tenant.disabled ?? false,
    limits: { ...defined(tier.limits), ...defined(tenant.limits) },
    budgets: budgetsToNano({ ...defined(tier.budgets), ...defined(tenant.budgets) }),
    input: { ...defined(tier.input), ...defined(tenant.input) },
    scopes: {
      models: tenant.models ?? tier.models ?? ['*'],
      features: tenant.features ?? tier.features ?? [],
    },
  };
}

/** Glob match for model and feature allowlists: `*` any run of characters, otherwise exact. */
export function matchesAllowlist(value: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p === '*' || p === value) return true;
    if (p.includes('*')) {
      const re = new RegExp('^' + p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
      if (re.test(value)) return true;
    }
  }
  return false;
}
