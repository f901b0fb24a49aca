/**
 * The admin API's error envelope: `{ "error": { "code", "message", "request_id" } }` with a closed
 * set of codes. 5xx details are never sent (logged with the request id instead).
 */
export const ERROR_CODES = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'idempotency_conflict', 'rate_limited', 'internal'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  rate_limited: 429,
  internal: 500,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { status?: number; details?: unknown } = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = opts.status ?? STATUS_OF[code];
    this.details = opts.details;
  }
  readonly details?: unknown;
}

export const badRequest = (message: string, details?: unknown) => new AppError('bad_request', message, { details });
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const conflict = (message: string) => new AppError('conflict', message);
export const forbidden = (message = 'this token may not do that') => new AppError('forbidden', message);

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; request_id: string; details?: unknown };
}

export function envelope(code: ErrorCode, message: string, requestId: string, details?: unknown): ErrorEnvelope {
  return { error: { code, message, request_id: requestId, ...(details !== undefined ? { details } : {}) } };
}

/** Postgres error codes we turn into client errors instead of 500s. */
export function fromDbError(err: unknown): AppError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (code === '23505') return conflict('an object with the same unique value already exists');
  if (code === '23503') return conflict('a referenced object does not exist or is still in use');
  // Class 22 = data exception (bad format, out of range, NUL bytes in text, bad Unicode escape).
  if (typeof code === 'string' && code.startsWith('22')) return badRequest('a value has an invalid format, an invalid character or is out of range');
  if (code === '54000') return badRequest('a value is too large');
  return undefined;
}
