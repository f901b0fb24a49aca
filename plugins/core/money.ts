/**
 * Money is integer nano-dollars (1e-9 USD) everywhere: prices, reservations, spend, caps.
 * One rounding rule: a request's cost is computed exactly, then rounded half up once.
 */

export const NANO_PER_USD = 1_000_000_000;
const NANO_PER_USD_BIG = 1_000_000_000n;

/** Dollars (as configured by people) → nano-dollars, half up. Throws on non-finite or negative. */
export function usdToNano(usd: number): number {
  if (!Number.isFinite(usd) || usd < 0) throw new RangeError('amount must be a finite, non-negative number of dollars');
  // Go through the decimal string so 0.1 + float noise does not drift a nano.
  const [whole, frac = ''] = usd.toFixed(10).split('.') as [string, string];
  const nanos = BigInt(whole) * NANO_PER_USD_BIG + BigInt(frac.slice(0, 9).padEnd(9, '0'));
  const roundUp = Number(frac[9] ?? '0') >= 5 ? 1n : 0n;
  return Number(nanos + roundUp);
}

export function nanoToUsd(nano: number): number {
  return nano / NANO_PER_USD;
}

/** Fixed 6-decimal dollar string for headers and logs (e.g. "0.499870"). */
export function formatUsd(nano: number): string {
  const sign = nano < 0 ? '-' : '';
  const abs = BigInt(Math.abs(Math.trunc(nano)));
  const micro = (abs + 500n) / 1000n; // half up to micro-dollars
  const whole = micro / 1_000_000n;
  const frac = (micro % 1_000_000n).toString().padStart(6, '0');
  return `${sign}${whole}.${frac}`;
}

/** A model's price per 1M tokens, in nano-dollars per 1M tokens (so $2.50/1M → 2_500_000_000). */
export interface ModelPrice {
  input_per_m_nano: number;
  output_per_m_nano: number;
  cached_input_per_m_nano?: number;
}

export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens?: number;
}

/**
 * Cost of one request in nano-dollars: sum of tokens × price-per-million exactly (BigInt), then
 * divided by 1e6 rounding half up — the single rounding rule.
 */
export function requestCostNano(price: ModelPrice, tokens: TokenCounts): number {
  const cached = Math.max(0, Math.min(tokens.cached_input_tokens ?? 0, tokens.input_tokens));
  const uncached = tokens.input_tokens - cached;
  const cachedPrice = price.cached_input_per_m_nano ?? price.input_per_m_nano;
  const numerator =
    BigInt(uncached) * BigInt(price.input_per_m_nano) +
    BigInt(cached) * BigInt(cachedPrice) +
    BigInt(tokens.output_tokens) * BigInt(price.output_per_m_nano);
  return Number((numerator + 500_000n) / 1_000_000n);
}
