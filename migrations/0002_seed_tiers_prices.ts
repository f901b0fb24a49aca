/**
 * Seed presets: three tiers (strict / balanced / permissive) and a starter price table.
 * Feature sets follow the plans: basic = chat_support; pro adds document_analysis and
 * code_review; enterprise adds bulk_processing. Budgets in USD (the key-level caps follow the
 * project's example: $0.50 per key lineage per day, $10 per month, alerts at 80% and 100%).
 * Frozen once released: change presets through the API or a later migration.
 */
import type { Kysely } from 'kysely';

const BASIC = ['chat_support'];
const PRO = [...BASIC, 'document_analysis', 'code_review'];
const ENTERPRISE = [...PRO, 'bulk_processing'];

export const SEED_TIERS = [
  {
    name: 'strict',
    description: 'Small teams and trials: 20 requests/min, 2 in flight, small prompts, cheap models (basic plan features).',
    limits: { requests_per_minute: 20, tokens_per_minute: 20_000, tokens_per_day: 500_000, concurrent_requests: 2, algorithm: 'sliding_window' },
    budgets: { tenant_daily_usd: 5, tenant_monthly_usd: 50, key_daily_usd: 0.5, key_monthly_usd: 10, thresholds_pct: [80, 100] },
    input: { max_message_chars: 8_000, max_turns: 20, max_input_tokens: 4_000, max_body_bytes: 65_536, default_max_tokens: 256, max_tokens_cap: 1_024, max_n: 1 },
    models: ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4.1-nano'],
    features: BASIC,
  },
  {
    name: 'balanced',
    description: 'Production teams: 300 requests/min, 10 in flight, mainstream models (pro plan features).',
    limits: { requests_per_minute: 300, tokens_per_minute: 200_000, tokens_per_day: 10_000_000, concurrent_requests: 10, algorithm: 'sliding_window' },
    budgets: { tenant_daily_usd: 50, tenant_monthly_usd: 1_000, key_daily_usd: 5, key_monthly_usd: 100, thresholds_pct: [80, 100] },
    input: { max_message_chars: 32_000, max_turns: 100, max_input_tokens: 32_000, max_body_bytes: 262_144, default_max_tokens: 1_024, max_tokens_cap: 4_096, max_n: 2 },
    models: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1*', 'text-embedding-3-*'],
    features: PRO,
  },
  {
    name: 'permissive',
    description: 'Trusted batch workloads: 2000 requests/min, 50 in flight, every model (enterprise plan features).',
    limits: { requests_per_minute: 2_000, tokens_per_minute: 2_000_000, concurrent_requests: 50, algorithm: 'sliding_window' },
    budgets: { tenant_daily_usd: 500, tenant_monthly_usd: 10_000, key_daily_usd: 100, key_monthly_usd: 2_000, thresholds_pct: [80, 100] },
    input: { max_message_chars: 128_000, max_turns: 500, max_input_tokens: 128_000, max_body_bytes: 1_048_576, default_max_tokens: 2_048, max_tokens_cap: 16_384, max_n: 4 },
    models: ['*'],
    features: ENTERPRISE,
  },
];

/** USD per 1M tokens (public list prices at the time of writing; edit through the API). */
export const SEED_PRICES = [
  { model: 'gpt-4o-mini', input_per_m_usd: 0.15, output_per_m_usd: 0.6, cached_input_per_m_usd: 0.075, aliases: ['gpt-4o-mini-2024-07-18'] },
  { model: 'gpt-4o', input_per_m_usd: 2.5, output_per_m_usd: 10, cached_input_per_m_usd: 1.25, aliases: ['gpt-4o-2024-08-06', 'gpt-4o-2024-11-20'] },
  { model: 'gpt-4.1', input_per_m_usd: 2, output_per_m_usd: 8, cached_input_per_m_usd: 0.5, aliases: [] },
  { model: 'gpt-4.1-mini', input_per_m_usd: 0.4, output_per_m_usd: 1.6, cached_input_per_m_usd: 0.1, aliases: [] },
  { model: 'gpt-4.1-nano', input_per_m_usd: 0.1, output_per_m_usd: 0.4, cached_input_per_m_usd: 0.025, aliases: [] },
  { model: 'text-embedding-3-small', input_per_m_usd: 0.02, output_per_m_usd: 0, cached_input_per_m_usd: null, aliases: [] },
];

export async function up(db: Kysely<any>): Promise<void> {
  await db
    .insertInto('tiers')
    .values(SEED_TIERS.map((t) => ({ ...t, limits: JSON.stringify(t.limits), budgets: JSON.stringify(t.budgets), input: JSON.stringify(t.input), models: JSON.stringify(t.models), features: JSON.stringify(t.features) })))
    .execute();
  await db
    .insertInto('model_prices')
    .values(SEED_PRICES.map((p) => ({ ...p, aliases: JSON.stringify(p.aliases) })))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('model_prices').where('model', 'in', SEED_PRICES.map((p) => p.model)).execute();
  await db.deleteFrom('tiers').where('name', 'in', SEED_TIERS.map((t) => t.name)).execute();
}
