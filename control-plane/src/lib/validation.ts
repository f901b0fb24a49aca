/**
 * Request validation: bodies strictly (no coercion, unknown fields refused), params and query
 * with coercion (they are strings on the wire). Errors name the field: `body.limits.x: must be > 0`.
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ coerceTypes: coerce ? 'array' : false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats(ajv);
  return ajv;
}

export function registerValidation(app: FastifyInstance): void {
  const body = makeAjv(false);
  const other = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : other).compile(schema));
}

function pathOf(context: string, instancePath: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = context;
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return out;
}

/** One readable line per ajv error, each naming the field. */
export function describeValidation(context: string, errors: ErrorObject[]): string {
  return errors
    .map((e) => {
      const base = pathOf(context || 'body', e.instancePath);
      const params = e.params as Record<string, unknown>;
      if (e.keyword === 'required') return `${base}.${String(params.missingProperty)}: required field missing`;
      if (e.keyword === 'additionalProperties') return `${base}.${String(params.additionalProperty)}: unknown field`;
      if (e.keyword === 'enum') {
        const allowed = (params.allowedValues as unknown[]) ?? [];
        return `${base}: must be one of ${allowed.length > 12 ? allowed.slice(0, 12).join(', ') + ', …' : allowed.join(', ')}`;
      }
      return `${base}: ${e.message ?? 'invalid'}`;
    })
    .join('; ');
}
