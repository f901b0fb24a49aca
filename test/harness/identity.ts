/**
 * `llm.identity` as llm-auth writes it (a versioned JSON string), for tests that put it in place
 * without llm-auth: the fixture-identity plugin (`from_header: true`) or a pre-function copies
 * it from the `x-fixture-identity` header.
 */
export interface IdentityFixture {
  tenant: string;
  requestId: string;
  limits?: Record<string, unknown>;
  budgets?: Record<string, unknown>;
  timezone?: string;
  /** Further identity fields, or replacements of the defaults. */
  extra?: Record<string, unknown>;
}

export function identityJson(o: IdentityFixture): string {
  return JSON.stringify({
    v: 1,
    request_id: o.requestId,
    tenant_id: o.tenant,
    method: 'api_key',
    key_id: 'key-1',
    lineage_id: 'lin-1',
    key_prefix: 'lg_live_ab',
    scopes: { models: ['*'], features: [] },
    timezone: o.timezone ?? 'UTC',
    limits: o.limits ?? {},
    budgets: o.budgets ?? {},
    input: {},
    ...o.extra,
  });
}

/** POST a one-message chat completion carrying `identity` in `x-fixture-identity`; resolves to the status. */
export async function chatStatus(url: string, identity: string, model = 'm'): Promise<number> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fixture-identity': identity },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.arrayBuffer();
  return r.status;
}
