/**
 * Redaction on top of the detectors: per-entity action (redact | block | log), replacement
 * (mask | placeholder | hash), allowlists, consistent placeholder numbering within one response.
 *
 *   const session = new RedactSession();            // one per response
 *   const r = redact(text, policy, session);        // { text, findings, blocked }
 *
 * `text` is returned as the very same string when nothing was replaced. Findings carry entity,
 * span and action — never the value.
 */
import { createHmac } from 'node:crypto';
import { normalise } from './normalise';
import { type Allowlist, detectNormalised, type Entity, type NormalisedFinding } from './detect';

export type Action = 'redact' | 'block' | 'log';
export type Replacement = 'mask' | 'placeholder' | 'hash';

export interface RedactPolicy {
  /** Entities to look for, each with its action. Entities not listed are not detected. */
  entities: Partial<Record<Entity, Action>>;
  replacement: Replacement;
  /** HMAC key for `hash` replacements (stable across responses with the same salt). */
  salt?: string;
  allow?: Allowlist;
}

export interface RedactFinding {
  entity: Entity;
  start: number;
  end: number;
  action: Action;
}

export interface RedactResult {
  text: string;
  findings: RedactFinding[];
  /** True when a finding's action is `block`: the caller must withhold the whole response. */
  blocked: boolean;
}

const LABEL: Record<Entity, string> = {
  email: 'EMAIL', phone: 'PHONE', credit_card: 'CREDIT_CARD', iban: 'IBAN', us_ssn: 'SSN', ip_address: 'IP_ADDRESS',
  jwt: 'JWT', private_key: 'PRIVATE_KEY', api_key: 'API_KEY', secret: 'SECRET',
};

/** Placeholder numbering for one response: the same value gets the same number everywhere in it. */
export class RedactSession {
  private readonly numbers = new Map<string, number>();
  private readonly counters = new Map<Entity, number>();
  placeholder(entity: Entity, value: string): string {
    const key = `${entity}\u0000${canonical(entity, value)}`;
    let n = this.numbers.get(key);
    if (n === undefined) {
      n = (this.counters.get(entity) ?? 0) + 1;
      this.counters.set(entity, n);
      this.numbers.set(key, n);
    }
    return `[${LABEL[entity]}_${n}]`;
  }
}

/** The comparable form of a value: emails lower-cased, numbers without separators. */
function canonical(entity: Entity, value: string): string {
  switch (entity) {
    case 'email':
      return value.toLowerCase();
    case 'credit_card':
    case 'phone':
    case 'us_ssn':
      return value.replace(/[^\d+]/g, '');
    case 'iban':
      return value.replace(/\s/g, '').toUpperCase();
    case 'ip_address':
      return value.toLowerCase();
    default:
      return value;
  }
}

function mask(entity: Entity, original: string): string {
  if (entity === 'credit_card') {
    // keep the last four digits, as receipts do
    let keep = 4;
    let out = '';
    for (let i = original.length - 1; i >= 0; i--) {
      const c = original[i] as string;
      if (c >= '0' && c <= '9') out = (keep-- > 0 ? c : '*') + out;
      else if (c === ' ' || c === '-') out = c + out;
      else out = '*' + out;
    }
    return out;
  }
  if (entity === 'email') {
    const at = original.lastIndexOf('@');
    return `${'*'.repeat(Math.max(1, at))}@${original.slice(at + 1).replace(/[^.]/g, '*')}`;
  }
  return original.replace(/[^\s.:\-@()+]/g, '*').replace(/\s+/g, ' ');
}

export function replacementFor(entity: Entity, value: string, original: string, policy: RedactPolicy, session: RedactSession): string {
  switch (policy.replacement) {
    case 'placeholder':
      return session.placeholder(entity, value);
    case 'hash': {
      const h = createHmac('sha256', policy.salt ?? '').update(`${entity}:${canonical(entity, value)}`).digest('hex').slice(0, 12);
      return `[${LABEL[entity]}_${h}]`;
    }
    default:
      return mask(entity, original);
  }
}

/** Entities a policy asks for (cached per policy object). */
const ENTITY_LISTS = new WeakMap<RedactPolicy, Entity[]>();
function policyEntities(policy: RedactPolicy): Entity[] {
  let list = ENTITY_LISTS.get(policy);
  if (!list) {
    list = (Object.keys(policy.entities) as Entity[]).filter((e) => policy.entities[e] !== undefined);
    ENTITY_LISTS.set(policy, list);
  }
  return list;
}

export interface RedactEdit {
  /** Original-text span replaced by `replacement`. */
  start: number;
  end: number;
  replacement: string;
}

/**
 * Detect per the policy and return the edits instead of applying them (streaming callers
 * distribute them over chunks). Edits are sorted and never overlap.
 */
export function redactEdits(text: string, policy: RedactPolicy, session: RedactSession = new RedactSession()): { edits: RedactEdit[]; findings: RedactFinding[]; blocked: boolean } {
  const entities = policyEntities(policy);
  if (entities.length === 0 || text.length === 0) return { edits: [], findings: [], blocked: false };
  const found: NormalisedFinding[] = detectNormalised(normalise(text), { entities, allow: policy.allow });
  const edits: RedactEdit[] = [];
  const findings: RedactFinding[] = [];
  let blocked = false;
  let pos = 0;
  for (const f of found) {
    const action = policy.entities[f.entity] ?? 'log';
    findings.push({ entity: f.entity, start: f.start, end: f.end, action });
    if (action === 'block') blocked = true;
    if (action !== 'redact' || f.start < pos) continue;
    edits.push({ start: f.start, end: f.end, replacement: replacementFor(f.entity, f.value, text.slice(f.start, f.end), policy, session) });
    pos = f.end;
  }
  return { edits, findings, blocked };
}

/** Apply sorted, non-overlapping edits. */
export function applyEdits(text: string, edits: readonly RedactEdit[]): string {
  if (edits.length === 0) return text;
  let out = '';
  let pos = 0;
  for (const e of edits) {
    out += text.slice(pos, e.start) + e.replacement;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** Detect per the policy and apply it. */
export function redact(text: string, policy: RedactPolicy, session: RedactSession = new RedactSession()): RedactResult {
  const { edits, findings, blocked } = redactEdits(text, policy, session);
  return { text: applyEdits(text, edits), findings, blocked };
}

/** Counts per entity (for events: never values). */
export function countByEntity(findings: readonly { entity: Entity }[]): Partial<Record<Entity, number>> {
  const counts: Partial<Record<Entity, number>> = {};
  for (const f of findings) counts[f.entity] = (counts[f.entity] ?? 0) + 1;
  return counts;
}
