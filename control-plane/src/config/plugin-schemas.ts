/**
 * The llm-* plugins' Kong schemas, imported from plugins/<name>/schema.ts (the same field lists
 * the plugin servers report to Kong), so the control plane refuses exactly what Kong would.
 * A plugin whose schema module does not exist yet is reported as missing.
 */
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { KongFieldEntry } from '../../../plugins/core/schema';

export const LLM_PLUGINS = ['llm-auth', 'llm-input-guard', 'llm-token-limit', 'llm-cost-quota', 'llm-output-redact'] as const;
export type SchemaMap = Map<string, KongFieldEntry[]>;

const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export function isFieldList(v: unknown): v is KongFieldEntry[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((e) => {
      if (!e || typeof e !== 'object' || Array.isArray(e)) return false;
      const keys = Object.keys(e);
      const field = (e as Record<string, unknown>)[keys[0] as string] as { type?: unknown } | undefined;
      return keys.length === 1 && typeof field?.type === 'string';
    })
  );
}

/** The Kong field list a schema module exports (`Schema` first, then any field list). */
export function fieldListOf(mod: Record<string, unknown>): KongFieldEntry[] | undefined {
  for (const name of ['Schema', 'schema', 'SCHEMA', 'FIELDS', 'fields']) if (isFieldList(mod[name])) return mod[name] as KongFieldEntry[];
  for (const v of Object.values(mod)) if (isFieldList(v)) return v;
  return undefined;
}

export async function loadPluginSchemas(root = REPO_ROOT): Promise<SchemaMap> {
  const out: SchemaMap = new Map();
  for (const name of LLM_PLUGINS) {
    const file = join(root, 'plugins', name, 'schema.ts');
    if (!existsSync(file)) continue;
    try {
      const mod = (await import(file)) as Record<string, unknown>;
      const list = fieldListOf(mod) ?? fieldListOf((mod.default ?? {}) as Record<string, unknown>);
      if (list) out.set(name, list);
    } catch {
      // A schema module that does not load (mid-edit) counts as missing: configs for that
      // plugin are then refused rather than pushed unchecked.
    }
  }
  return out;
}

/** Top-level field names of a plugin schema. */
export function fieldNames(list: KongFieldEntry[] | undefined): Set<string> {
  return new Set((list ?? []).map((e) => Object.keys(e)[0] as string));
}

export function fieldOf(list: KongFieldEntry[] | undefined, name: string) {
  const entry = (list ?? []).find((e) => Object.keys(e)[0] === name);
  return entry?.[name];
}
