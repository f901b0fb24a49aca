/**
 * POST the declarative config to Kong's DB-less Admin API: `/config?check_hash=1&flatten_errors=1`.
 * The body is `{"config": "<the config as a JSON string>"}`: Kong hashes that string and answers
 * 304 when it equals the running config's hash (a body with `_format_version` at the top level is
 * accepted too, but Kong computes no hash for it, so check_hash would never answer 304).
 * 201/200 = applied, 304 = unchanged, 400 = refused — Kong's field errors are turned into
 * readable lines (`plugin llm-auth (id): config.tenants[3].tier: …`); 429 (busy loading) and
 * 5xx are failures to retry.
 */
import { flattenFieldErrors, type FieldErrors } from '../../../plugins/core/schema';

export type PushOutcome = { status: 'applied' | 'unchanged'; httpStatus: number; bytes: number } | { status: 'refused' | 'failed'; httpStatus?: number; bytes: number; errors: string[] };

interface FlatError {
  entity_type?: string;
  entity_name?: string;
  entity_id?: string;
  entity?: { name?: string };
  errors?: Array<{ field?: string; message?: string; type?: string }>;
}

/** Kong's 400 body → readable lines. Handles flatten_errors output and the nested `fields` form. */
export function readableKongErrors(body: unknown): string[] {
  if (!body || typeof body !== 'object') return ['Kong refused the configuration'];
  const b = body as { message?: unknown; flattened_errors?: unknown; fields?: unknown };
  const lines: string[] = [];
  if (Array.isArray(b.flattened_errors)) {
    for (const e of b.flattened_errors as FlatError[]) {
      const who = [e.entity_type ?? 'entity', e.entity_name ?? e.entity?.name, e.entity_id ? `(${e.entity_id})` : undefined].filter(Boolean).join(' ');
      for (const fe of e.errors ?? []) lines.push(`${who}: ${fe.field ? `${fe.field}: ` : ''}${fe.message ?? 'invalid'}`);
    }
  }
  if (!lines.length && b.fields && typeof b.fields === 'object') lines.push(...flattenFieldErrors(b.fields as FieldErrors));
  if (!lines.length && typeof b.message === 'string') lines.push(b.message);
  return lines.length ? lines : ['Kong refused the configuration'];
}

export async function pushConfig(adminUrl: string, config: unknown, opts: { timeoutMs?: number; body?: string } = {}): Promise<PushOutcome> {
  const body = JSON.stringify({ config: opts.body ?? JSON.stringify(config) });
  const bytes = Buffer.byteLength(body);
  const url = `${adminUrl.replace(/\/+$/, '')}/config?check_hash=1&flatten_errors=1`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (err) {
    return { status: 'failed', bytes, errors: [`Kong admin API unreachable (${(err as Error)?.name ?? 'error'})`] };
  }
  if (res.status === 304) return { status: 'unchanged', httpStatus: 304, bytes };
  if (res.status === 200 || res.status === 201) {
    await res.arrayBuffer().catch(() => undefined);
    return { status: 'applied', httpStatus: res.status, bytes };
  }
  const text = await res.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.status === 400) return { status: 'refused', httpStatus: 400, bytes, errors: readableKongErrors(parsed) };
  if (res.status === 413) return { status: 'refused', httpStatus: 413, bytes, errors: [`config of ${bytes} bytes is larger than the Admin API accepts`] };
  return { status: 'failed', httpStatus: res.status, bytes, errors: [`Kong admin API answered ${res.status}`] };
}
