/**
 * Structural diff of two configs. Arrays of objects with an `id` or `name` are matched by it, so a
 * tenant change reads `plugins[name=llm-auth].config.tenants[id=acme].limits.requests_per_minute`.
 */
export interface Change {
  path: string;
  op: 'add' | 'remove' | 'change';
  before?: unknown;
  after?: unknown;
}

function keyOf(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id === 'string') return `id=${o.id}`;
  if (typeof o.name === 'string') return `name=${o.name}`;
  if (typeof o.model === 'string') return `model=${o.model}`;
  return undefined;
}

function keyed(list: unknown[]): Map<string, unknown> | undefined {
  const m = new Map<string, unknown>();
  for (const v of list) {
    const k = keyOf(v);
    if (k === undefined || m.has(k)) return undefined;
    m.set(k, v);
  }
  return m;
}

export function diffConfigs(a: unknown, b: unknown, path = '', out: Change[] = [], max = 2_000): Change[] {
  if (out.length >= max) return out;
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  if (Array.isArray(a) && Array.isArray(b)) {
    const ka = keyed(a);
    const kb = keyed(b);
    if (ka && kb) {
      for (const [k, v] of ka) {
        if (!kb.has(k)) out.push({ path: `${path}[${k}]`, op: 'remove', before: v });
        else diffConfigs(v, kb.get(k), `${path}[${k}]`, out, max);
      }
      for (const [k, v] of kb) if (!ka.has(k)) out.push({ path: `${path}[${k}]`, op: 'add', after: v });
      return out;
    }
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i >= a.length) out.push({ path: `${path}[${i}]`, op: 'add', after: b[i] });
      else if (i >= b.length) out.push({ path: `${path}[${i}]`, op: 'remove', before: a[i] });
      else diffConfigs(a[i], b[i], `${path}[${i}]`, out, max);
    }
    return out;
  }
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push({ path: p, op: 'add', after: b[k] });
      else if (!(k in b)) out.push({ path: p, op: 'remove', before: a[k] });
      else diffConfigs(a[k], b[k], p, out, max);
    }
    return out;
  }
  out.push({ path: path || '$', op: 'change', before: a, after: b });
  return out;
}
