import { Type, type TSchema } from '@sinclair/typebox';
import type { KongField } from '../../../plugins/core/schema';
import { toJsonSchema } from '../../../plugins/core/schema';

/** A TypeBox schema from a Kong field (the plugins' own definition: one source of truth). */
export const fromKong = <T = unknown>(field: KongField, extra: Record<string, unknown> = {}) =>
  Type.Unsafe<T>({ ...stripDefaults(toJsonSchema(field)), ...extra });

/** Request bodies must not get Kong's defaults filled in by the validator (ajv useDefaults). */
function stripDefaults(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'default') continue;
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, stripDefaults(pv as Record<string, unknown>)]));
    } else if (k === 'items' && v && typeof v === 'object') out[k] = stripDefaults(v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}

export const AnyObject = Type.Object({}, { additionalProperties: true });
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** Drop undefined and null members (what the gateway config gets). */
export function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) out[k] = v;
  return out as Partial<T>;
}

export const SLUG = '^[a-z0-9][a-z0-9_-]{0,62}$';
export const IdParam = (name = 'id') => Type.Object({ [name]: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
