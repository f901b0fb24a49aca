/** Seed tiers/tenants and config builders shared by llm-auth tests. Test support only. */
import { randomBytes } from 'node:crypto';
import { normalizeConfig } from '../handler';
import type { AuthConfig } from '../schema';

export const TIERS = [
  { name: 'basic', limits: { requests_per_minute: 60 }, budgets: { tenant_daily_usd: 10 }, features: ['chat_support'], models: ['gpt-4o-mini'] },
  { name: 'pro', limits: { requests_per_minute: 600 }, budgets: { tenant_daily_usd: 100 }, features: ['chat_support', 'document_analysis', 'code_review'], models: ['gpt-4o*'] },
  { name: 'enterprise', limits: { requests_per_minute: 6000 }, features: ['chat_support', 'document_analysis', 'code_review', 'bulk_processing'], models: ['*'] },
];

export const TENANTS = [
  { id: 'acme', tier: 'pro', timezone: 'Europe/Berlin', consumers: ['acme-consumer'] },
  { id: 'small', tier: 'basic' },
  { id: 'big', tier: 'enterprise', limits: { requests_per_minute: 9999 } },
  { id: 'gone', tier: 'pro', disabled: true },
];

export function uniquePrefix(file: string): string {
  return `llg:t:${file}:${randomBytes(4).toString('hex')}:`;
}

export function authConfig(over: Record<string, unknown> = {}): AuthConfig {
  return normalizeConfig({ tiers: TIERS, tenants: TENANTS, throttle: { enabled: false }, ...over });
}
