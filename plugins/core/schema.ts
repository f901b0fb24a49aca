/**
 * One definition per plugin config, two outputs:
 *  - the Kong-format field list the plugin server reports (`Schema`), which Kong validates
 *    every configuration against (so it is strict: unknown fields are refused);
 *  - a JSON Schema (for ajv, OpenAPI and the generated configuration reference).
 * `validateKongConfig` applies Kong's rules (types, required, defaults, one_of, between,
 * len_min/len_max, nested records/arrays/maps) and is shared by the Kong-protocol host and the
 * control plane, so both refuse exactly what Kong would.
 */

export type KongFieldType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'set' | 'map' | 'record';

export interface KongField {
  type: KongFieldType;
  required?: boolean;
  default?: unknown;
  one_of?: readonly unknown[];
  between?: readonly [number, number];
  gt?: number;
  len_min?: number;
  len_max?: number;
  referenceable?: boolean;
  encrypted?: boolean;
  description?: string;
  elements?: KongField;
  keys?: KongField;
  values?: KongField;
  fields?: KongFieldEntry[];
}

/** Kong's list form: `[{ name: field }, ...]`. */
export type KongFieldEntry = Record<string, KongField>;

type Opts = Omit<KongField, 'type' | 'elements' | 'keys' | 'values' | 'fields'>;

/** Builders: `f.string({ default: 'x' })`, `f.record({ a: f.integer() })`. */
export const f = {
  string: (o: Opts = {}): KongField => ({ type: 'string', ...o }),
  number: (o: Opts = {}): KongField => ({ type: 'number', ...o }),
  integer: (o: Opts = {}): KongField => ({ type: 'integer', ...o }),
  boolean: (o: Opts = {}): KongField => ({ type: 'boolean', ...o }),
  array: (elements: KongField, o: Opts = {}): KongField => ({ type: 'array', elements, ...o }),
  set: (elements: KongField, o: Opts = {}): KongField => ({ type: 'set', elements, ...o }),
  map: (keys: KongField, values: KongField, o: Opts = {}): KongField => ({ type: 'map', keys, values, ...o }),
  record: (fields: Record<string, KongField>, o: Opts = {}): KongField => ({
    type: 'record',
    fields: Object.entries(fields).map(([name, field]) => ({ [name]: field })),
    ...o,
  }),
};

/** Field list for a plugin's `Schema` export, from an ordered object of fields. */
export function fieldList(fields: Record<string, KongField>): KongFieldEntry[] {
  return Object.entries(fields).map(([name, field]) => ({ [name]: field }));
}

export type FieldErrors = { [name: string]: string | FieldErrors | Array<string | FieldErrors | null> };
export type ValidationResult<T = Record<string, unknown>> =
  | { ok: true; value: T }
  | { ok: false; errors: FieldErrors };

function entryName(entry: KongFieldEntry): [string, KongField] {
  const name = Object.keys(entry)[0] as string;
  return [name, entry[name] as KongField];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

const VAULT_REFERENCE = /^\{vault:\/\/[^}]+\}$/;
const MISSING = Symbol('missing');

function defaultOf(field: KongField): unknown {
  if (field.default !== undefined) return structuredClone(field.default);
  if (field.type === 'record' && field.fields) {
    // Kong builds absent records from their fields' defaults.
    const out: Record<string, unknown> = {};
    let any = false;
    for (const entry of field.fields) {
      const [name, sub] = entryName(entry);
      const d = defaultOf(sub);
      if (d !== MISSING) {
        out[name] = d;
        any = true;
      }
    }
    return any || !field.required ? out : MISSING;
  }
  return MISSING;
}

type CheckResult = { value?: unknown; error?: string | FieldErrors | Array<string | FieldErrors | null> };

function checkValue(field: KongField, value: unknown): CheckResult {
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string') return { error: 'expected a string' };
      if (field.referenceable && VAULT_REFERENCE.test(value)) return { value };
      if (field.len_min !== undefined && value.length < field.len_min) return { error: `length must be at least ${field.len_min}` };
      if (field.len_max !== undefined && value.length > field.len_max) return { error: `length must be at most ${field.len_max}` };
      break;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return { error: 'expected an integer' };
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return { error: 'expected a number' };
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return { error: 'expected a boolean' };
      break;
    case 'array':
    case 'set': {
      // Lua sends an empty table as [] or {}; both mean an empty list.
      const list = isPlainObject(value) && Object.keys(value).length === 0 ? [] : value;
      if (!Array.isArray(list)) return { error: field.type === 'set' ? 'expected a set' : 'expected an array' };
      if (field.len_min !== undefined && list.length < field.len_min) return { error: `length must be at least ${field.len_min}` };
      if (field.len_max !== undefined && list.length > field.len_max) return { error: `length must be at most ${field.len_max}` };
      const errors: Array<string | FieldErrors | null> = [];
      const out: unknown[] = [];
      let failed = false;
      list.forEach((item, i) => {
        const r: CheckResult = field.elements ? checkValue(field.elements, item) : { value: item };
        if (r.error !== undefined) {
          failed = true;
          errors[i] = r.error as string | FieldErrors;
        } else {
          errors[i] = null;
          out.push(r.value);
        }
      });
      if (failed) return { error: errors };
      if (field.type === 'set') return { value: [...new Map(out.map((v) => [JSON.stringify(v), v])).values()] };
      return { value: out };
    }
    case 'map': {
      const obj = Array.isArray(value) && value.length === 0 ? {} : value;
      if (!isPlainObject(obj)) return { error: 'expected a map' };
      const errors: FieldErrors = {};
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) {
        if (field.keys) {
          const kr = checkValue(field.keys, k);
          if (kr.error !== undefined) {
            errors[k] = `invalid key: ${typeof kr.error === 'string' ? kr.error : 'invalid'}`;
            continue;
          }
        }
        const vr: CheckResult = field.values ? checkValue(field.values, v) : { value: v };
        if (vr.error !== undefined) errors[k] = vr.error;
        else out[k] = vr.value;
      }
      if (Object.keys(errors).length) return { error: errors };
      return { value: out };
    }
    case 'record': {
      const r = validateRecord(field.fields ?? [], value);
      return r.ok ? { value: r.value } : { error: r.errors };
    }
  }
  if (field.one_of && !field.one_of.includes(value)) {
    return { error: `expected one of: ${field.one_of.join(', ')}` };
  }
  if (field.between && typeof value === 'number' && (value < field.between[0] || value > field.between[1])) {
    return { error: `value should be between ${field.between[0]} and ${field.between[1]}` };
  }
  if (field.gt !== undefined && typeof value === 'number' && !(value > field.gt)) {
    return { error: `value must be greater than ${field.gt}` };
  }
  return { value };
}

function validateRecord(fields: KongFieldEntry[], input: unknown): ValidationResult {
  const obj = input === undefined || input === null || (Array.isArray(input) && input.length === 0) ? {} : input;
  if (!isPlainObject(obj)) return { ok: false, errors: { '@entity': 'expected a record' } };
  const errors: FieldErrors = {};
  const out: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const entry of fields) {
    const [name, field] = entryName(entry);
    known.add(name);
    const raw = obj[name];
    if (raw === undefined || raw === null) {
      const d = defaultOf(field);
      if (d !== MISSING && d !== null) out[name] = d;
      else if (field.required) errors[name] = 'required field missing';
      continue;
    }
    const r = checkValue(field, raw);
    if (r.error !== undefined) errors[name] = r.error;
    else out[name] = r.value;
  }
  for (const name of Object.keys(obj)) {
    if (!known.has(name)) errors[name] = 'unknown field';
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: out };
}

/** Validate a plugin `config` against the plugin's Kong field list, filling defaults. */
export function validateKongConfig<T = Record<string, unknown>>(fields: KongFieldEntry[], config: unknown): ValidationResult<T> {
  return validateRecord(fields, config) as ValidationResult<T>;
}

/**
 * A plugin's own config from what Kong hands the constructor: Kong's extra keys (`route_id`,
 * `__key__`, `$refs`, ...) dropped, nulls treated as unset, defaults filled, Kong's rules applied.
 */
export function ownConfig<T = Record<string, unknown>>(fields: KongFieldEntry[], raw: unknown): ValidationResult<T> {
  const src = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const own: Record<string, unknown> = {};
  for (const entry of fields) {
    const name = Object.keys(entry)[0] as string;
    if (src[name] !== undefined && src[name] !== null) own[name] = src[name];
  }
  return validateKongConfig<T>(fields, own);
}

/** Flatten nested field errors to `a.b[2].c: message` lines (Kong's flatten_errors style). */
export function flattenFieldErrors(errors: FieldErrors | Array<string | FieldErrors | null> | string, path = ''): string[] {
  if (typeof errors === 'string') return [`${path || '@entity'}: ${errors}`];
  if (Array.isArray(errors)) {
    return errors.flatMap((e, i) => (e === null || e === undefined ? [] : flattenFieldErrors(e, `${path}[${i + 1}]`)));
  }
  return Object.entries(errors).flatMap(([k, v]) => flattenFieldErrors(v, path ? `${path}.${k}` : k));
}

/** JSON Schema (draft 2020-12 subset) for the same field list. */
export function toJsonSchema(field: KongField): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  if (field.description) base.description = field.description;
  if (field.default !== undefined) base.default = field.default;
  switch (field.type) {
    case 'string':
      return { ...base, type: 'string', ...(field.one_of ? { enum: field.one_of } : {}), ...(field.len_min !== undefined ? { minLength: field.len_min } : {}), ...(field.len_max !== undefined ? { maxLength: field.len_max } : {}) };
    case 'integer':
    case 'number':
      return {
        ...base,
        type: field.type,
        ...(field.one_of ? { enum: field.one_of } : {}),
        ...(field.between ? { minimum: field.between[0], maximum: field.between[1] } : {}),
        ...(field.gt !== undefined ? { exclusiveMinimum: field.gt } : {}),
      };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'array':
    case 'set':
      return {
        ...base,
        type: 'array',
        ...(field.elements ? { items: toJsonSchema(field.elements) } : {}),
        ...(field.type === 'set' ? { uniqueItems: true } : {}),
        ...(field.len_min !== undefined ? { minItems: field.len_min } : {}),
        ...(field.len_max !== undefined ? { maxItems: field.len_max } : {}),
      };
    case 'map':
      return { ...base, type: 'object', ...(field.values ? { additionalProperties: toJsonSchema(field.values) } : {}) };
    case 'record': {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const entry of field.fields ?? []) {
        const [name, sub] = entryName(entry);
        properties[name] = toJsonSchema(sub);
        if (sub.required && sub.default === undefined) required.push(name);
      }
      return { ...base, type: 'object', properties, additionalProperties: false, ...(required.length ? { required } : {}) };
    }
  }
}

export function fieldsToJsonSchema(fields: KongFieldEntry[]): Record<string, unknown> {
  return toJsonSchema({ type: 'record', fields });
}
