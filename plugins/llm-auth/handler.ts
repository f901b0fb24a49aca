/**
 * llm-auth — the first llm-* plugin on an LLM route (priority 1010, access + log).
 *
 * access: one `get_headers`; the client IP only when a guessable credential is presented with
 * throttling on (or a forwarded certificate must come from a trusted proxy); the TLS chain or the
 * Kong consumer only when no header credential decided; then one `ctx.shared.set` and one
 * `service.request.set_headers` (allowed) or `ctx.shared.set` + `response.exit` (refused).
 * Any exception → 503 (failClosed): a broken config or a crashing verifier never lets a request
 * through.
 * log: one `auth` event to `<prefix>events` and one metadata log line.
 */
import { CTX, decodeCtx, encodeCtx } from '../core/context';
import { unavailable } from '../core/errors';
import { failClosed, logSafely, sendError } from '../core/handler';
import type { KongPdk } from '../core/pdk';
import { validateKongConfig } from '../core/schema';
import { writeEvents } from '../core/redis/events';
import { Authenticator } from './authenticate';
import { decisionFor, errorFor, logRecord, PLUGIN, upstreamHeaders, type AuthDecision } from './decide';
import { FIELDS, Schema, type AuthConfig } from './schema';

export { Schema };
export const Name = PLUGIN;
export const Version = '0.1.0';
export const Priority = 1010;

/** Kong's own keys (route_id, __seq__, $refs, ...) dropped; schema defaults applied again. */
export function normalizeConfig(raw: unknown): AuthConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('llm-auth config is not a record');
  const src = raw as Record<string, unknown>;
  const known: Record<string, unknown> = {};
  for (const k of Object.keys(FIELDS)) if (src[k] !== undefined) known[k] = src[k];
  const r = validateKongConfig<AuthConfig>(Schema, known);
  if (!r.ok) throw new Error('invalid llm-auth config');
  return r.value;
}

export class Plugin {
  private readonly auth?: Authenticator;
  private readonly configError?: string;
  private reported = false;

  constructor(config: unknown) {
    try {
      this.auth = new Authenticator(normalizeConfig(config));
    } catch (e) {
      // Never throw here (a failed StartInstance is a 500 in Kong): refuse in access instead.
      this.configError = e instanceof Error ? e.name : typeof e;
    }
  }

  async access(kong: KongPdk): Promise<void> {
    await failClosed(kong, PLUGIN, async () => {
      const auth = this.auth;
      if (!auth) {
        if (!this.reported) {
          this.reported = true;
          await kong.log.err(`[${PLUGIN}] configuration unusable (${this.configError}); every request is refused with 503`);
        }
        sendError(kong, unavailable('auth_unavailable'));
        return;
      }
      const headers = await kong.request.getHeaders();
      const result = await auth.authenticate({
        headers,
        now: Date.now(),
        clientIp: () => kong.client.getForwardedIp(),
        peerIp: () => kong.client.getIp(),
        tlsChain: () => kong.client.tls.getFullClientCertificateChain(),
        consumer: () => kong.client.getConsumer(),
      });
      if (!result.ok) {
        const err = errorFor(result);
        await kong.ctx.shared.set(CTX.decision, encodeCtx(CTX.decision, decisionFor(result, err.status)));
        sendError(kong, err);
        return;
      }
      const cfg = auth.cfg;
      await kong.ctx.shared.set(CTX.identity, encodeCtx(CTX.identity, result.identity));
      const set = upstreamHeaders(result.identity, result.credentialHeader, cfg.upstream_auth, cfg.request_id_header, headers);
      if (Object.keys(set).length) await kong.service.request.setHeaders(set);
    });
  }

  async log(kong: KongPdk): Promise<void> {
    await logSafely(kong, PLUGIN, async () => {
      const identity = decodeCtx(CTX.identity, await kong.ctx.shared.get(CTX.identity));
      const decision = identity ? undefined : (decodeCtx(CTX.decision, await kong.ctx.shared.get(CTX.decision)) as AuthDecision | undefined);
      const rec = logRecord(identity, decision, Date.now());
      const cfg = this.auth?.cfg;
      if (cfg?.events.enabled && this.auth?.redis) void writeEvents(this.auth.redis, { prefix: cfg.redis_key_prefix, maxlen: cfg.events.maxlen }, [rec.event]);
      await kong.log.notice(rec.line);
    });
  }
}
