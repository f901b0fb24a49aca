/**
 * llm-token-limit configuration (Kong field list + TypeScript type).
 */
import { redisConfigField, type RedisConfig } from '../core/redis/schema';
import { f, fieldList, type KongField } from '../core/schema';
import { LIMIT_FIELDS } from '../core/tenancy';
import type { ResolvedLimits } from '../core/context';

export const ALGORITHMS = ['sliding_window', 'fixed_window', 'token_bucket', 'gcra'] as const;
export const SCOPES = ['tenant', 'lineage', 'route', 'model'] as const;

export const CONFIG_FIELDS = {
  limits: f.record(LIMIT_FIELDS, {
    description: 'Limits used when neither llm.request nor llm.identity is present (standalone use, require_identity=false). With an identity, its resolved limits apply.',
  }),
  global_limits: f.record(LIMIT_FIELDS, {
    description: 'Optional limits shared by every tenant on this route (a second Redis call with its own hash tag). Empty = none.',
  }),
  algorithm: f.string({ one_of: [...ALGORITHMS], default: 'sliding_window', description: 'Algorithm for request and token windows when the limits do not name one.' }),
  scope: f.set(f.string({ one_of: [...SCOPES] }), {
    default: ['tenant'],
    description: 'What one set of counters covers: always the tenant; add `lineage` (per API-key lineage), `route`, `model` to split the tenant\'s counters further.',
  }),
  model_weights: f.map(f.string({ len_min: 1 }), f.number({ gt: 0 }), {
    default: {},
    description: 'Model glob → token weight (e.g. `gpt-4o*: 10`): token reservations and usage are multiplied by it. Exact match first, then the longest matching glob; 1 otherwise.',
  }),
  default_input_tokens: f.integer({ between: [0, 10_000_000], default: 0, description: 'Input-token estimate when llm.request is absent (identity only).' }),
  default_max_tokens: f.integer({ between: [0, 10_000_000], default: 1024, description: 'Output-token reservation when llm.request is absent.' }),
  mode: f.string({ one_of: ['enforce', 'shadow'], default: 'enforce', description: '`shadow` counts and reports would-be denials (events, log) without refusing requests.' }),
  require_identity: f.boolean({ default: true, description: 'Answer 503 when neither llm.request nor llm.identity is present (fail closed behind llm-auth).' }),
  policy: f.string({ one_of: ['redis', 'local'], default: 'redis', description: '`redis`: counters shared by every node; `local`: in-process counters per plugin server (approximate across nodes).' }),
  fault_tolerant: f.boolean({
    default: true,
    description: 'When Redis is unreachable: true = decide with local counters and the same limits (logged); false = 503.',
  }),
  concurrency_slot_ttl_sec: f.integer({
    between: [1, 86_400],
    default: 600,
    description: 'Lifetime of a concurrency slot whose request never reaches the log phase (crash). Keep it longer than the upstream timeout.',
  }),
  headers: f.boolean({ default: true, description: 'Send RateLimit-* and x-ratelimit-* headers.' }),
  limit_events: f.boolean({ default: true, description: 'Write one `limit` event per denial to the event stream.' }),
  events_maxlen: f.integer({ gt: 0, default: 100_000, description: 'Approximate bound of the event stream (XADD MAXLEN ~).' }),
  redis_key_prefix: f.string({ default: 'llg:', len_max: 64, description: 'Prefix of every Redis key.' }),
  redis: redisConfigField({ host: '127.0.0.1', connect_timeout_ms: 250, command_timeout_ms: 250 }),
} satisfies Record<string, KongField>;

export const Schema = fieldList(CONFIG_FIELDS);

export type Algorithm = (typeof ALGORITHMS)[number];
export type Scope = (typeof SCOPES)[number];

export interface TokenLimitConfig {
  limits?: ResolvedLimits;
  global_limits?: ResolvedLimits;
  algorithm: Algorithm;
  scope: Scope[];
  model_weights: Record<string, number>;
  default_input_tokens: number;
  default_max_tokens: number;
  mode: 'enforce' | 'shadow';
  require_identity: boolean;
  policy: 'redis' | 'local';
  fault_tolerant: boolean;
  concurrency_slot_ttl_sec: number;
  headers: boolean;
  limit_events: boolean;
  events_maxlen: number;
  redis_key_prefix: string;
  redis: RedisConfig;
  /** Kong adds route_id (and other keys) beside the schema's fields. */
  route_id?: string;
}
