/**
 * The kong.ctx.shared contract between the llm-* plugins.
 *
 * Values are versioned JSON *strings* (`{"v":1,...}`): Kong's Lua side turns `{}` into `[]` and
 * drops nulls in tables, strings cross every plugin server intact. A value that does not decode
 * to the expected version is treated as missing, so a guard downstream fails closed.
 */

export const CTX = {
  identity: 'llm.identity',
  request: 'llm.request',
  usage: 'llm.usage',
  decision: 'llm.decision',
} as const;
export type CtxKey = (typeof CTX)[keyof typeof CTX];

export const CONTRACT_VERSION = 1;

/** Rate limits resolved for one tenant (tier merged with overrides). Absent = unlimited. */
export interface ResolvedLimits {
  requests_per_second?: number;
  requests_per_minute?: number;
  requests_per_hour?: number;
  requests_per_day?: number;
  tokens_per_minute?: number;
  tokens_per_hour?: number;
  tokens_per_day?: number;
  concurrent_requests?: number;
  /** Algorithm for request/token windows; each plugin has its own default. */
  algorithm?: 'sliding_window' | 'fixed_window' | 'token_bucket' | 'gcra';
}

/** Money budgets in integer nano-dollars (1e-9 USD). Absent = no cap at that level. */
export interface ResolvedBudgets {
  tenant_daily_nano?: number;
  tenant_monthly_nano?: number;
  key_daily_nano?: number;
  key_monthly_nano?: number;
  /** Threshold percentages that emit one `budget_threshold` event per period each. */
  thresholds_pct?: number[];
  /** Optional spend-per-minute cap. */
  per_minute_nano?: number;
}

/** Input limits resolved for one tenant (used by llm-input-guard). Absent = plugin config. */
export interface InputLimits {
  max_message_chars?: number;
  max_turns?: number;
  max_input_tokens?: number;
  max_body_bytes?: number;
  default_max_tokens?: number;
  max_tokens_cap?: number;
  max_n?: number;
}

export type AuthMethod = 'api_key' | 'jwt' | 'oauth_jwt' | 'oauth_introspection' | 'mtls' | 'consumer' | 'static_key';

export interface LlmIdentity {
  v: 1;
  request_id: string;
  tenant_id: string;
  tier?: string;
  method: AuthMethod;
  key_id?: string;
  /** Survives key rotation: budgets and limits per key are kept per lineage. */
  lineage_id?: string;
  key_prefix?: string;
  /** HMAC of an end-user id taken from a token claim; never the id itself. */
  end_user_hash?: string;
  scopes: { models: string[]; features: string[] };
  feature?: string;
  timezone: string;
  limits: ResolvedLimits;
  budgets: ResolvedBudgets;
  input: InputLimits;
}

export type EndpointKind = 'chat' | 'completions' | 'embeddings' | 'responses' | 'other';

export interface LlmRequest {
  v: 1;
  request_id: string;
  endpoint: EndpointKind;
  model: string;
  stream: boolean;
  input_tokens: number;
  /** Final max output tokens per choice (after default/clamp); 0 for embeddings. */
  max_tokens: number;
  n: number;
  feature?: string;
  prompt_hash: string;
  /** llm-input-guard injected stream_options.include_usage: the client did not ask for it. */
  include_usage_injected: boolean;
  flagged?: { score: number };
  // Copy of what llm-token-limit and llm-cost-quota need from the identity: one ctx read each.
  tenant_id: string;
  key_id?: string;
  lineage_id?: string;
  tier?: string;
  timezone: string;
  limits: ResolvedLimits;
  budgets: ResolvedBudgets;
}

export interface LlmUsage {
  v: 1;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens?: number;
  model?: string;
}

export interface LlmDecision {
  v: 1;
  plugin: string;
  reason: string;
}

export interface CtxValues {
  'llm.identity': LlmIdentity;
  'llm.request': LlmRequest;
  'llm.usage': LlmUsage;
  'llm.decision': LlmDecision;
}

export function encodeCtx<K extends CtxKey>(_key: K, value: Omit<CtxValues[K], 'v'>): string {
  return JSON.stringify({ ...value, v: CONTRACT_VERSION });
}

const REQUIRED_FIELDS: { [K in CtxKey]: Array<[string, string]> } = {
  'llm.identity': [['request_id', 'string'], ['tenant_id', 'string'], ['method', 'string'], ['scopes', 'object'], ['limits', 'object'], ['budgets', 'object'], ['input', 'object'], ['timezone', 'string']],
  'llm.request': [['request_id', 'string'], ['endpoint', 'string'], ['model', 'string'], ['stream', 'boolean'], ['input_tokens', 'number'], ['max_tokens', 'number'], ['n', 'number'], ['tenant_id', 'string'], ['limits', 'object'], ['budgets', 'object'], ['timezone', 'string']],
  'llm.usage': [['prompt_tokens', 'number'], ['completion_tokens', 'number'], ['total_tokens', 'number']],
  'llm.decision': [['plugin', 'string'], ['reason', 'string']],
};

/**
 * Decode a ctx.shared value. Returns undefined for anything that is not a JSON string of the
 * current contract version with the key's required fields: callers treat that as "missing".
 */
export function decodeCtx<K extends CtxKey>(key: K, raw: unknown): CtxValues[K] | undefined {
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  if (obj.v !== CONTRACT_VERSION) return undefined;
  for (const [field, type] of REQUIRED_FIELDS[key]) {
    const v = obj[field];
    if (type === 'object' ? typeof v !== 'object' || v === null : typeof v !== type) return undefined;
  }
  return obj as unknown as CtxValues[K];
}

/** The request fields llm-token-limit / llm-cost-quota use, from `llm.request` or, without the guard, `llm.identity`. */
export interface LimitSubject {
  request_id: string;
  tenant_id: string;
  key_id?: string;
  lineage_id?: string;
  tier?: string;
  timezone: string;
  limits: ResolvedLimits;
  budgets: ResolvedBudgets;
  model?: string;
  input_tokens?: number;
  max_tokens?: number;
  n?: number;
  stream?: boolean;
}

/** Carry the identity's fields into `llm.request` (done by llm-input-guard). */
export function identityForRequest(identity: LlmIdentity): Pick<LlmRequest, 'tenant_id' | 'key_id' | 'lineage_id' | 'tier' | 'timezone' | 'limits' | 'budgets'> {
  return {
    tenant_id: identity.tenant_id,
    key_id: identity.key_id,
    lineage_id: identity.lineage_id,
    tier: identity.tier,
    timezone: identity.timezone,
    limits: identity.limits,
    budgets: identity.budgets,
  };
}
