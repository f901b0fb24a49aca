/**
 * The price table: configured USD per 1M tokens, converted once to nano-dollars per 1M tokens,
 * with aliases and date-suffixed model names mapped to their base model. Pure.
 */
import { requestCostNano, usdToNano, type ModelPrice, type TokenCounts } from '../core/money';
import type { PriceConfig } from './schema';

export interface PriceTable {
  /** Price of a model, or undefined when unknown and there is no default price. */
  lookup(model: string | undefined): { model: string; price: ModelPrice; known: boolean } | undefined;
}

export function priceToNano(p: PriceConfig): ModelPrice {
  const out: ModelPrice = { input_per_m_nano: usdToNano(p.input_per_1m), output_per_m_nano: usdToNano(p.output_per_1m) };
  if (p.cached_input_per_1m !== undefined && p.cached_input_per_1m !== null) out.cached_input_per_m_nano = usdToNano(p.cached_input_per_1m);
  return out;
}

// gpt-4o-2024-08-06, o1-2024-12-17 · claude-3-5-sonnet-20241022 · gpt-4-0613, gpt-3.5-turbo-0125
const DATE_SUFFIXES = [/-\d{4}-\d{2}-\d{2}$/, /-\d{8}$/, /-\d{4}$/, /@\d{8}$/];

/** Candidate names for a model, most specific first. */
export function modelCandidates(model: string): string[] {
  const out = [model];
  const lower = model.toLowerCase();
  if (lower !== model) out.push(lower);
  for (const re of DATE_SUFFIXES) {
    if (re.test(lower)) out.push(lower.replace(re, ''));
  }
  return out;
}

export function buildPriceTable(prices: Record<string, PriceConfig>, aliases: Record<string, string>, defaultPrice?: PriceConfig): PriceTable {
  const table = new Map<string, ModelPrice>();
  for (const [name, p] of Object.entries(prices)) table.set(name, priceToNano(p));
  // Lower-case lookups too, without overriding an exact entry.
  for (const [name, p] of [...table]) if (!table.has(name.toLowerCase())) table.set(name.toLowerCase(), p);
  const alias = new Map<string, string>();
  for (const [from, to] of Object.entries(aliases)) {
    alias.set(from, to);
    if (!alias.has(from.toLowerCase())) alias.set(from.toLowerCase(), to);
  }
  const fallback = defaultPrice ? priceToNano(defaultPrice) : undefined;
  const cache = new Map<string, { model: string; price: ModelPrice; known: boolean } | undefined>();

  function resolve(model: string): { model: string; price: ModelPrice; known: boolean } | undefined {
    for (const c of modelCandidates(model)) {
      const direct = table.get(c);
      if (direct) return { model: c, price: direct, known: true };
      const target = alias.get(c);
      if (target !== undefined) {
        for (const t of modelCandidates(target)) {
          const p = table.get(t);
          if (p) return { model: t, price: p, known: true };
        }
      }
    }
    return undefined;
  }

  return {
    lookup(model) {
      if (model === undefined || model === '') return fallback ? { model: 'default', price: fallback, known: false } : undefined;
      if (cache.has(model)) return cache.get(model);
      const r = resolve(model) ?? (fallback ? { model: 'default', price: fallback, known: false } : undefined);
      // Bounded: model names come from requests (the guard checks them against allowlists, but not always).
      if (cache.size < 1000) cache.set(model, r);
      return r;
    },
  };
}

/** Worst-case cost reserved in access: input × input price + max_tokens × n × output price. */
export function worstCaseCostNano(price: ModelPrice, inputTokens: number, maxTokens: number, n: number): number {
  return requestCostNano(price, { input_tokens: Math.max(0, Math.trunc(inputTokens)), output_tokens: Math.max(0, Math.trunc(maxTokens)) * Math.max(1, Math.trunc(n)) });
}

/** Actual cost from reported usage (cached prompt tokens at the cached price). */
export function actualCostNano(price: ModelPrice, usage: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number }): number {
  const t: TokenCounts = {
    input_tokens: Math.max(0, Math.trunc(usage.prompt_tokens || 0)),
    output_tokens: Math.max(0, Math.trunc(usage.completion_tokens || 0)),
    cached_input_tokens: Math.max(0, Math.trunc(usage.cached_tokens || 0)),
  };
  return requestCostNano(price, t);
}
