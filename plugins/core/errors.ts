/**
 * OpenAI-shaped errors with the architecture's status table. Messages are generic on purpose:
 * they never reveal which rule, key or detector decided (that goes to events only).
 */

export type ErrorKind =
  | 'invalid_request' // 400
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'too_large' // 413
  | 'unsupported_media_type' // 415
  | 'rate_limited' // 429
  | 'quota_exceeded' // 429
  | 'policy_withheld' // 502: a response withheld by output policy
  | 'unavailable'; // 503: the gateway cannot decide safely

export const ERROR_STATUS: Record<ErrorKind, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  quota_exceeded: 429,
  policy_withheld: 502,
  unavailable: 503,
};

const ERROR_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  unauthenticated: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'invalid_request_error',
  too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  quota_exceeded: 'insufficient_quota',
  policy_withheld: 'policy_error',
  unavailable: 'service_unavailable',
};

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

export interface GatewayError {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

export interface ErrorOptions {
  param?: string | null;
  headers?: Record<string, string>;
  /** Seconds, for 429/503: sets Retry-After. */
  retryAfter?: number;
}

export function gatewayError(kind: ErrorKind, code: string, message: string, opts: ErrorOptions = {}): GatewayError {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.headers ?? {}) };
  if (kind === 'unauthenticated' && !headers['www-authenticate']) headers['www-authenticate'] = 'Bearer realm="llm"';
  if (opts.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(opts.retryAfter)));
  return {
    status: ERROR_STATUS[kind],
    body: { error: { message, type: ERROR_TYPE[kind], code, param: opts.param ?? null } },
    headers,
  };
}

/** The fail-closed answer when a plugin cannot decide safely. */
export function unavailable(code = 'gateway_unavailable', retryAfter = 1): GatewayError {
  return gatewayError('unavailable', code, 'The gateway cannot process this request right now. Please retry shortly.', { retryAfter });
}
