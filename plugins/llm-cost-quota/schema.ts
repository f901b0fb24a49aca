/**
 * llm-cost-quota configuration: the Kong field list the plugin server reports (strict: Kong
 * refuses an unknown field, a negative price, a cap of 0 or an unknown timezone) and its type.
 */
import { redisConfigField, type RedisConfig } from '../core/redis/schema';
import { f, fieldList, type KongField } from '../core/schema';
import { BUDGET_FIELDS, timezoneField, type BudgetsConfig } from '../core/tenancy';

/** Prices are USD per 1M tokens; between [0, 1e6] refuses negative (and absurd) prices. */
const price = (description: string, required = false): KongField => f.number({ between: [0, 1_000_000], required, description });

// In the default price the two fields are optional for Kong (an absent record is filled from its
// fields' defaults); the plugin requires both when unknown_model = default_price.
const PRICE_RECORD = (description: string, required = true): KongField =>
  f.record(
    {
      input_per_1m: price('USD per 1M input (prompt) tokens.', required),
      output_per_1m: price('USD per 1M output (completion) tokens.', required),
      cached_input_per_1m: price('USD per 1M cached input tokens (defaults to the input price).'),
    },
    { description },
  );

export const CONFIG_FIELDS = {
  prices: f.map(f.string({ len_min: 1, len_max: 200 }), PRICE_RECORD('Price of one model.'), {
    default: {},
    description:
      'Price table: model name → USD per 1M input / output / cached-input tokens. Date-suffixed names (gpt-4o-2024-08-06, claude-3-5-sonnet-20241022, gpt-4-0613) fall back to their base model.',
  }),
  aliases: f.map(f.string({ len_min: 1, len_max: 200 }), f.string({ len_min: 1, len_max: 200 }), {
    default: {},
    description: 'Model aliases: name → a model of the price table.',
  }),
  unknown_model: f.string({
    one_of: ['deny', 'default_price'],
    default: 'deny',
    description: 'A model without a price: `deny` (403) or charge `default_price`.',
  }),
  default_price: PRICE_RECORD('Price used for unknown models when unknown_model = default_price (both prices required then).', false),
  budgets: f.record(BUDGET_FIELDS, {
    description: 'Budgets (USD) for standalone use: fields the identity carries take precedence, these fill the gaps.',
  }),
  global_daily_usd: f.number({ gt: 0, description: 'Spend cap across all tenants per calendar day (in `global_timezone`), USD. Costs a second Redis call.' }),
  global_monthly_usd: f.number({ gt: 0, description: 'Spend cap across all tenants per calendar month, USD.' }),
  global_timezone: timezoneField({ default: 'UTC' }),
  timezone: timezoneField({ default: 'UTC' }),
  thresholds_pct: f.array(f.integer({ between: [1, 100] }), {
    default: [80, 100],
    description: 'Percentages of a cap that emit one budget_threshold event per budget and period (when the budgets carry none).',
  }),
  default_input_tokens: f.integer({ gt: 0, default: 1000, description: 'Input tokens assumed when llm.request is absent (no input guard on the route).' }),
  default_max_tokens: f.integer({ gt: 0, default: 1024, description: 'Output tokens assumed when llm.request is absent.' }),
  default_model: f.string({ len_min: 1, description: 'Model assumed when llm.request is absent.' }),
  mode: f.string({ one_of: ['enforce', 'shadow'], default: 'enforce', description: '`shadow` counts spend and reports would-be denials (events) without refusing requests.' }),
  require_identity: f.boolean({ default: true, description: 'Answer 503 when neither llm.request nor llm.identity is present (fail closed behind llm-auth).' }),
  fault_tolerant: f.boolean({
    // Money fails closed by default: only `false` keeps spend ≤ cap through a Redis outage.
    default: false,
    description: 'When Redis is unreachable: false (default) = 503, spend never passes a cap; true = in-memory budgets on this node (same rules, logged; spend can pass a cap by other nodes\' share).',
  }),
  budget_headers: f.boolean({ default: false, description: 'Send x-llm-budget-remaining-usd and x-llm-budget-reset (seconds) on admitted requests.' }),
  usage_events: f.boolean({ default: true, description: 'Write one `usage` event per request to the event stream.' }),
  events_maxlen: f.integer({ gt: 0, default: 100_000, description: 'Approximate bound of the event stream (XADD MAXLEN ~).' }),
  reservation_ttl_sec: f.integer({ between: [60, 7 * 86_400], default: 86_400, description: 'How long an unsettled reservation record lives (its amount stays spent).' }),
  redis_key_prefix: f.string({ default: 'llg:', len_max: 64, description: 'Prefix of every Redis key.' }),
  redis: redisConfigField({
    host: '127.0.0.1',
    connect_timeout_ms: 500,
    command_timeout_ms: 1000,
    commandTimeoutNote: 'Command timeout. A timeout counts as Redis down (fallback or 503): too short a value under load makes a busy node fall back while Redis is healthy.',
  }),
} satisfies Record<string, KongField>;

export const Schema = fieldList(CONFIG_FIELDS);

export interface PriceConfig {
  input_per_1m: number;
  output_per_1m: number;
  cached_input_per_1m?: number;
}

export interface CostQuotaConfig {
  prices: Record<string, PriceConfig>;
  aliases: Record<string, string>;
  unknown_model: 'deny' | 'default_price';
  default_price?: Partial<PriceConfig>;
  budgets?: BudgetsConfig;
  global_daily_usd?: number;
  global_monthly_usd?: number;
  global_timezone: string;
  timezone: string;
  thresholds_pct: number[];
  default_input_tokens: number;
  default_max_tokens: number;
  default_model?: string;
  mode: 'enforce' | 'shadow';
  require_identity: boolean;
  fault_tolerant: boolean;
  budget_headers: boolean;
  usage_events: boolean;
  events_maxlen: number;
  reservation_ttl_sec: number;
  redis_key_prefix: string;
  redis: RedisConfig;
}
