/**
 * llm-input-guard configuration: the Kong field list the plugin server reports (Kong validates
 * every configuration against it) and the TypeScript type of a validated config.
 *
 * Limits here are the route's own; when `llm.identity` carries the tenant's resolved `input`
 * limits (and `scopes.models`), those win (see limits.ts).
 */
import { eventsConfigField, type EventsConfig } from '../core/redis/schema';
import { f, fieldList, type KongField } from '../core/schema';
import { ENTITIES, type Entity } from '../core/text/detect';

export const ENDPOINT_KINDS = ['chat', 'completions', 'embeddings', 'responses'] as const;
export type KnownEndpoint = (typeof ENDPOINT_KINDS)[number];

const posInt = (description: string, def: number, max?: number): KongField =>
  f.integer({ default: def, ...(max !== undefined ? { between: [1, max] as const } : { gt: 0 }), description });

const CUSTOM_PATTERN: KongField = f.record({
  id: f.string({ required: true, len_min: 1, len_max: 64, description: 'Rule id reported in guard events (never to the client).' }),
  pattern: f.string({
    required: true,
    len_min: 1,
    len_max: 256,
    description:
      'Regular expression matched (case-insensitively) against the normalised text. Refused at start-up when it could backtrack badly: back-references, look-arounds, nested or overlapping quantifiers.',
  }),
  weight: f.number({ default: 1, between: [0, 10], description: 'Added to the injection score when the pattern matches.' }),
});

export const FIELDS = {
  require_identity: f.boolean({
    default: true,
    description: 'Answer 503 when `llm.identity` (written by llm-auth) is missing or invalid. Set false only for standalone use.',
  }),
  endpoint: f.string({
    default: 'auto',
    one_of: ['auto', ...ENDPOINT_KINDS],
    description: 'Endpoint kind of this route. `auto` recognises it from the path suffix (one more PDK call per request).',
  }),
  unknown_endpoint: f.string({
    default: 'reject',
    one_of: ['reject', 'allow'],
    description: 'A request with a body to a path that is not chat/completions, completions, embeddings or responses: refuse it (400) or pass it uninspected.',
  }),
  max_body_bytes: posInt('Largest request body in bytes (413 above; checked on Content-Length before reading).', 1_048_576, 104_857_600),
  max_json_depth: posInt('Deepest JSON nesting accepted.', 32, 256),
  max_array_items: posInt('Longest JSON array accepted anywhere in the body (messages, content parts, embedding inputs, tools).', 2048, 100_000),
  unknown_fields: f.string({
    default: 'strip',
    one_of: ['allow', 'strip', 'reject'],
    description: "Top-level fields the endpoint's schema does not know: pass them, remove them before the upstream sees the body, or refuse (400).",
  }),
  max_message_chars: posInt('Characters (code points) per message, per prompt string or per embedding input.', 4000),
  max_turns: posInt('Messages (or `responses` input items) per request.', 10),
  turns_policy: f.string({
    default: 'reject',
    one_of: ['reject', 'truncate_oldest'],
    description: 'Over `max_turns`: refuse, or drop the oldest non-system messages (system/developer messages are kept).',
  }),
  max_input_tokens: posInt('Input tokens per request, counted with the model family tokenizer (messages, tool definitions, content parts, images).', 8000),
  default_max_tokens: posInt('Output tokens injected when the client sends no max_tokens / max_completion_tokens / max_output_tokens.', 1000),
  inject_max_tokens: f.boolean({
    default: true,
    description: 'Inject `default_max_tokens` when the client sends no output limit. When false the request is reserved at `max_tokens_cap`.',
  }),
  max_tokens_cap: posInt('Largest output-token limit a request may ask for.', 4096),
  over_max_tokens: f.string({ default: 'clamp', one_of: ['clamp', 'reject'], description: 'A request asking for more than `max_tokens_cap`: lower it to the cap, or refuse (400).' }),
  max_n: posInt('Largest `n` (and `best_of`) allowed; larger values are lowered to it.', 4),
  allowed_models: f.array(f.string({ len_min: 1 }), {
    default: ['*'],
    description: "Models allowed on this route (exact or `*` glob) when the identity carries no model scopes. Others → 403 model_not_allowed.",
  }),
  image_tokens: f.string({
    default: 'tiles',
    one_of: ['tiles', 'flat'],
    description: "How image parts count: OpenAI's tile rule (85 + 170 per 512px tile after scaling; dimensions read from data URLs) or `image_flat_tokens` each.",
  }),
  image_flat_tokens: posInt('Tokens per image in `flat` mode, and for a high/auto-detail image whose size is unknown (remote URL) in `tiles` mode.', 1445),
  inject_include_usage: f.boolean({
    default: true,
    description: 'Streaming chat/completions requests get `stream_options.include_usage: true` so usage can be settled (recorded in llm.request).',
  }),
  normalise_upstream: f.boolean({
    default: false,
    description: 'Send the normalised text (NFKC, zero-width/bidi removed) upstream instead of the original.',
  }),
  injection: f.record({
    enabled: f.boolean({ default: true, description: 'Score prompts for injection.' }),
    action: f.string({
      default: 'block',
      one_of: ['block', 'flag', 'log'],
      description: '`block` → 400; `flag` → upstream header + `flagged` in llm.request; `log` → guard event only (shadow mode).',
    }),
    threshold: f.number({ default: 1, between: [0.1, 100], description: 'Score at or above which the action applies.' }),
    disabled_rules: f.array(f.string({ len_min: 1 }), { default: [], description: 'Built-in rule ids to switch off.' }),
    custom_patterns: f.array(CUSTOM_PATTERN, { default: [], len_max: 100, description: 'Extra weighted patterns.' }),
    scan_roles: f.array(f.string({ one_of: ['user', 'tool', 'system', 'developer', 'assistant', 'function'] }), {
      default: ['user', 'tool', 'function'],
      description: 'Message roles whose content is scanned (completions prompts and responses input strings are always scanned).',
    }),
    flag_header: f.string({ default: 'x-llm-guard-flagged', len_min: 1, description: 'Upstream request header set to the score when `action` is `flag`.' }),
  }),
  pii: f.record({
    action: f.string({
      default: 'off',
      one_of: ['off', 'block', 'redact', 'log'],
      description: 'PII and secrets in the input: refuse (400), replace them before the upstream sees them, or only report them in a guard event (counts per entity, never values).',
    }),
    entities: f.array(f.string({ one_of: [...ENTITIES] }), { default: [...ENTITIES], description: 'Entities looked for (plugins/core/text detectors).' }),
    replacement: f.string({ default: 'placeholder', one_of: ['placeholder', 'mask', 'hash'], description: 'How `redact` replaces a value: `[EMAIL_1]`, `****`, or an HMAC tag.' }),
    hash_salt: f.string({ referenceable: true, encrypted: true, description: 'HMAC key for `hash` replacements (a vault reference).' }),
    allow_values: f.array(f.string({ len_min: 1 }), { default: [], description: 'Values never reported (compared after normalisation).' }),
    allow_domains: f.array(f.string({ len_min: 1 }), { default: [], description: 'Email domains never reported.' }),
    scan_roles: f.array(f.string({ one_of: ['user', 'tool', 'system', 'developer', 'assistant', 'function'] }), {
      default: ['user', 'tool', 'function'],
      description: 'Message roles scanned (completions prompts, responses input strings and embeddings inputs are always scanned).',
    }),
  }),
  events: eventsConfigField('`guard` events (rule ids and counts, never content)'),
} satisfies Record<string, KongField>;

export const Schema = fieldList(FIELDS);

export interface CustomPatternConfig {
  id: string;
  pattern: string;
  weight: number;
}

export interface GuardConfig {
  require_identity: boolean;
  endpoint: 'auto' | KnownEndpoint;
  unknown_endpoint: 'reject' | 'allow';
  max_body_bytes: number;
  max_json_depth: number;
  max_array_items: number;
  unknown_fields: 'allow' | 'strip' | 'reject';
  max_message_chars: number;
  max_turns: number;
  turns_policy: 'reject' | 'truncate_oldest';
  max_input_tokens: number;
  default_max_tokens: number;
  inject_max_tokens: boolean;
  max_tokens_cap: number;
  over_max_tokens: 'clamp' | 'reject';
  max_n: number;
  allowed_models: string[];
  image_tokens: 'tiles' | 'flat';
  image_flat_tokens: number;
  inject_include_usage: boolean;
  normalise_upstream: boolean;
  injection: {
    enabled: boolean;
    action: 'block' | 'flag' | 'log';
    threshold: number;
    disabled_rules: string[];
    custom_patterns: CustomPatternConfig[];
    scan_roles: string[];
    flag_header: string;
  };
  pii: {
    action: 'off' | 'block' | 'redact' | 'log';
    entities: Entity[];
    replacement: 'placeholder' | 'mask' | 'hash';
    hash_salt?: string;
    allow_values: string[];
    allow_domains: string[];
    scan_roles: string[];
  };
  events: EventsConfig;
}
