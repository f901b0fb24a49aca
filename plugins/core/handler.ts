/**
 * Handler plumbing shared by the five plugins.
 *
 * In Kong a handler that throws is only logged and the request goes on. Guards therefore run
 * their access phase inside `failClosed`, which turns any exception into an explicit 503.
 */
import type { KongPdk } from './pdk';
import { type GatewayError, unavailable } from './errors';
import { CTX, encodeCtx } from './context';

/** Send an OpenAI-shaped error. The caller must `return` right after: Kong sends no reply. */
export function sendError(kong: KongPdk, err: GatewayError, extraHeaders?: Record<string, string>): void {
  void kong.response.exit(err.status, JSON.stringify(err.body), { ...err.headers, ...(extraHeaders ?? {}) });
}

/** Record why a plugin denied (for the log phase of later plugins), then send the error. */
export async function deny(kong: KongPdk, plugin: string, reason: string, err: GatewayError, extraHeaders?: Record<string, string>): Promise<void> {
  await kong.ctx.shared.set(CTX.decision, encodeCtx(CTX.decision, { plugin, reason }));
  sendError(kong, err, extraHeaders);
}

/**
 * Run an access-phase body; any exception becomes a 503 (fail closed) and a metadata-only
 * log line. Never rethrows.
 */
export async function failClosed(kong: KongPdk, plugin: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    try {
      await kong.log.err(`[${plugin}] internal error, request refused: ${errorClass(e)}`);
    } catch {
      /* the log call itself failed: nothing more to do */
    }
    sendError(kong, unavailable());
  }
}

/** Run a log-phase body; exceptions are logged (metadata only) and swallowed. */
export async function logSafely(kong: KongPdk, plugin: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    try {
      await kong.log.err(`[${plugin}] log phase error: ${errorClass(e)}`);
    } catch {
      /* ignore */
    }
  }
}

/**
 * The class (and `code`, when there is one) of an error, for logs — never its message: parser
 * messages quote the input (`"hello" is not valid JSON`), which may be a prompt or a key.
 */
export function errorClass(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' || typeof code === 'number' ? `${e.name}(${code})` : e.name;
  }
  return typeof e;
}
