/**
 * Kong schema of llm-output-redact (strict; every field described: the configuration reference
 * is generated from it) and the config type.
 */
import { eventsConfigField, type EventsConfig } from '../core/redis/schema';
import { f, fieldList, type KongField } from '../core/schema';
import type { Entity } from '../core/text/detect';

const action = (def: EntityAction, what: string): KongField =>
  f.string({
    default: def,
    one_of: ['redact', 'block', 'log', 'off'],
    description: `${what}: \`redact\` replaces it, \`block\` withholds the whole response (502), \`log\` only counts it in the \`redact\` event, \`off\` does not look for it.`,
  });

export const FIELDS = {
  mode: f.string({
    default: 'redact',
    one_of: ['redact', 'usage_only'],
    description: '`redact`: detect and apply the entity actions, and extract usage. `usage_only`: only read `usage` into `llm.usage` (for settlement); the body is never changed.',
  }),
  entities: f.record(
    {
      email: action('redact', 'E-mail addresses'),
      phone: action('redact', 'Phone numbers (E.164 and common national formats with separators)'),
      credit_card: action('redact', 'Payment card numbers (13–19 digits, Luhn and issuer checked)'),
      iban: action('redact', 'IBANs (country length and mod-97 checked)'),
      us_ssn: action('redact', 'US social security numbers (area/group/serial rules)'),
      ip_address: action('log', 'IPv4 and IPv6 addresses (version strings excluded)'),
      jwt: action('redact', 'JSON Web Tokens (header decodes to JSON with `alg`)'),
      private_key: action('redact', 'PEM private keys (complete or truncated)'),
      api_key: action('redact', 'API keys of known formats (OpenAI, AWS, GitHub, Slack, Stripe, Google)'),
      secret: action('redact', 'High-entropy values next to key/token/secret/password words'),
    },
    { description: 'Action per entity; the entity set of the route is every entity not `off`.' },
  ),
  replacement: f.string({
    default: 'placeholder',
    one_of: ['placeholder', 'mask', 'hash'],
    description: '`placeholder`: `[EMAIL_1]`, numbered per response (same value, same number); `mask`: `*` per character (cards keep the last four digits); `hash`: `[EMAIL_<12 hex>]`, an HMAC-SHA256 of the value with `salt` (stable across responses).',
  }),
  salt: f.string({
    referenceable: true,
    encrypted: true,
    len_min: 16,
    description: 'HMAC key for `replacement: hash` (required then); use a vault reference, e.g. `{vault://env/REDACT_SALT}`.',
  }),
  allow_values: f.array(f.string({ len_min: 1, len_max: 512 }), {
    default: [],
    len_max: 1000,
    description: 'Values never reported (compared after Unicode normalisation; e-mail addresses case-insensitively), e.g. a support address.',
  }),
  allow_domains: f.array(f.string({ len_min: 1, len_max: 253 }), {
    default: [],
    len_max: 1000,
    description: 'E-mail domains (and their subdomains) never reported.',
  }),
  max_body_bytes: f.integer({
    default: 8 * 1024 * 1024,
    between: [1024, 64 * 1024 * 1024],
    description: 'Largest upstream body (after decompression) that is inspected.',
  }),
  oversize: f.string({
    default: 'block',
    one_of: ['block', 'pass'],
    description: 'What happens to a body larger than `max_body_bytes`, or in a content encoding that cannot be decoded, in `redact` mode: `block` withholds it (502), `pass` lets it through uninspected (logged).',
  }),
  events: eventsConfigField('one `redact` event per inspected response (counts per entity, never values)'),
} satisfies Record<string, KongField>;

export const Schema = fieldList(FIELDS);

export type EntityAction = 'redact' | 'block' | 'log' | 'off';

export interface RedactConfig {
  mode: 'redact' | 'usage_only';
  entities: Record<Entity, EntityAction>;
  replacement: 'placeholder' | 'mask' | 'hash';
  salt?: string;
  allow_values: string[];
  allow_domains: string[];
  max_body_bytes: number;
  oversize: 'block' | 'pass';
  events: EventsConfig;
}
