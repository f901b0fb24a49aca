/**
 * Turning an authentication result into what the handler sends (pure): the OpenAI-shaped error
 * for a refusal, the ctx decision record, the upstream header changes, the auth event and the
 * log line. Nothing here ever contains a key, token, certificate or claim value.
 */
import { v7 as uuidv7 } from 'uuid';
import type { LlmDecision, LlmIdentity } from '../core/context';
import { gatewayError, unavailable, type GatewayError } from '../core/errors';
import { makeEvent, type GatewayEvent } from '../core/events';
import { headerValue, type MultiMap } from '../core/pdk';
import type { AuthResult } from './authenticate';

export const PLUGIN = 'llm-auth';

/** What llm-auth stores in `llm.decision` when it refuses (extra fields beside the contract's). */
export interface AuthDecision extends LlmDecision {
  request_id: string;
  method: string;
  status: number;
  key_prefix?: string;
}

export const MESSAGES = {
  missing: 'Authentication required: provide a valid API key or token.',
  invalid: 'Invalid authentication credentials.',
  forbidden: 'This credential is not allowed to use this resource.',
  throttled: 'Too many failed authentication attempts. Retry later.',
} as const;

export function errorFor(r: Extract<AuthResult, { ok: false }>): GatewayError {
  switch (r.kind) {
    case 'unauthenticated':
      return r.missing
        ? gatewayError('unauthenticated', 'missing_credentials', MESSAGES.missing, { headers: { 'www-authenticate': 'Bearer realm="llm"' } })
        : gatewayError('unauthenticated', 'invalid_credentials', MESSAGES.invalid, { headers: { 'www-authenticate': 'Bearer realm="llm", error="invalid_token"' } });
    case 'forbidden':
      return gatewayError('forbidden', 'permission_denied', MESSAGES.forbidden);
    case 'rate_limited':
      return gatewayError('rate_limited', 'rate_limit_exceeded', MESSAGES.throttled, { retryAfter: Math.max(1, (r.retryAfterMs ?? 1000) / 1000) });
    case 'unavailable':
      return unavailable('auth_unavailable');
  }
}

export function decisionFor(r: Extract<AuthResult, { ok: false }>, status: number): Omit<AuthDecision, 'v'> {
  return { plugin: PLUGIN, reason: r.reason, request_id: r.requestId, method: r.method, status, ...(r.keyPrefix ? { key_prefix: r.keyPrefix } : {}) };
}

/**
 * Upstream header changes in one `service.request.set_headers` call: the provider credential,
 * the client credential removed (an empty value removes a header in nginx) when it sat in another
 * header, and the request id when the client did not send that exact one.
 */
export function upstreamHeaders(
  identity: Pick<LlmIdentity, 'request_id' | 'client_request_id'>,
  credentialHeader: string | undefined,
  upstream: { header: string; scheme?: string; value?: string },
  requestIdHeader: string,
  headers: MultiMap | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (credentialHeader) out[credentialHeader.toLowerCase()] = '';
  if (upstream.value) out[upstream.header.toLowerCase()] = upstream.scheme ? `${upstream.scheme} ${upstream.value}` : upstream.value;
  // The provider sees the client's own id when it sent a usable one, else the gateway's.
  const rid = requestIdHeader.toLowerCase();
  const forwarded = identity.client_request_id ?? identity.request_id;
  if (headerValue(headers, rid) !== forwarded) out[rid] = forwarded;
  return out;
}

export interface LogRecord {
  event: GatewayEvent;
  line: string;
}

/** The log-phase event and line from what access left in ctx (identity, else our decision). */
export function logRecord(identity: LlmIdentity | undefined, decision: AuthDecision | undefined, now: number): LogRecord {
  if (identity) {
    const fields = {
      outcome: 'allowed',
      method: identity.method,
      tenant_id: identity.tenant_id,
      tier: identity.tier,
      key_id: identity.key_id,
      key_prefix: identity.key_prefix,
      end_user_hash: identity.end_user_hash,
      feature: identity.feature,
      client_request_id: identity.client_request_id,
    };
    return { event: makeEvent('auth', now, identity.request_id, fields), line: line(identity.request_id, fields) };
  }
  if (decision && decision.plugin === PLUGIN) {
    const fields = { outcome: 'denied', method: decision.method, status: decision.status, reason: decision.reason, key_prefix: decision.key_prefix };
    return { event: makeEvent('auth', now, decision.request_id, fields), line: line(decision.request_id, fields) };
  }
  const requestId = uuidv7();
  const fields = { outcome: 'error', reason: 'no_decision' };
  return { event: makeEvent('auth', now, requestId, fields), line: line(requestId, fields) };
}

function line(requestId: string, fields: Record<string, string | number | undefined>): string {
  const parts = [`[${PLUGIN}]`, `request_id=${requestId}`];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') parts.push(`${k}=${v}`);
  return parts.join(' ');
}
