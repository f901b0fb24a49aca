/**
 * llm-output-redact — Kong plugin (JavaScript PDK), response phase, priority 802.
 *
 * Implementing `response` makes Kong buffer the upstream body (SSE included). PDK calls per
 * response (each one round trip):
 *   1 kong.service.response.getStatus
 *   2 kong.service.response.getHeaders
 *   3 kong.service.response.getRawBody
 *   4 kong.ctx.shared.get('llm.request')   (SSE, or when events are on: include_usage_injected, request id)
 *   5 kong.ctx.shared.set('llm.usage')     (when the response carried usage)
 *   6 kong.response.exit                   (only when the body changed or is withheld; no reply)
 *   + kong.log.* once for the odd cases (malformed, non-JSON, oversize, internal error)
 *
 * Fail closed: in `redact` mode an internal error withholds the response (502) rather than let
 * Kong pass the unredacted body on; in `usage_only` mode it passes.
 */
import type { KongPdk } from '../core/pdk';
import { asBuffer } from '../core/pdk';
import { CTX, decodeCtx, encodeCtx } from '../core/context';
import { gatewayError } from '../core/errors';
import { errorClass } from '../core/handler';
import { ownConfig } from '../core/schema';
import { makeEvent } from '../core/events';
import { emitConfiguredEvents } from '../core/redis/schema';
import { PLUGIN, prepare, processResponse, type Prepared, type RedactEventFields } from './process';
import { Schema, type RedactConfig } from './schema';

export { Schema };
export const Name = PLUGIN;
export const Version = '0.1.0';
export const Priority = 802;

/** Validate Kong's config (its own extra keys dropped), fill defaults. Throws on invalid. */
export function loadConfig(raw: unknown): RedactConfig {
  const r = ownConfig<RedactConfig>(Schema, raw);
  if (!r.ok) throw new Error('invalid llm-output-redact config');
  return r.value;
}

/** Where `redact` events go; replaceable in tests. */
export interface RedactEventSink {
  emit(cfg: RedactConfig, requestId: string, fields: RedactEventFields): void;
}

export const redisEventSink: RedactEventSink = {
  emit(cfg, requestId, fields) {
    if (cfg.events.enabled) emitConfiguredEvents(cfg.events, [makeEvent('redact', Date.now(), requestId, { ...fields })]);
  },
};

let sink: RedactEventSink = redisEventSink;
export function setRedactEventSink(s: RedactEventSink): void {
  sink = s;
}

function withheldError(): { status: number; body: string; headers: Record<string, string> } {
  const err = gatewayError('policy_withheld', 'response_withheld', 'The response was withheld by policy.');
  return { status: err.status, body: JSON.stringify(err.body), headers: err.headers };
}

export class Plugin {
  private readonly prepared?: Prepared;
  private readonly startError?: string;
  private readonly failOpen: boolean;

  constructor(config: unknown) {
    let failOpen = false;
    try {
      const cfg = loadConfig(config);
      failOpen = cfg.mode === 'usage_only';
      this.prepared = prepare(cfg);
    } catch (e) {
      this.startError = errorClass(e);
    }
    this.failOpen = failOpen;
  }

  async response(kong: KongPdk): Promise<void> {
    const p = this.prepared;
    try {
      if (!p) {
        await kong.log.err(`[${PLUGIN}] plugin configuration unusable (${this.startError ?? 'unknown'}); withholding responses`);
        const w = withheldError();
        void kong.response.exit(w.status, w.body, w.headers);
        return;
      }
      const status = (await kong.service.response.getStatus()) ?? 0;
      if (status < 200 || status >= 300) return; // upstream errors pass as they are
      const headers = await kong.service.response.getHeaders(200);
      const body = asBuffer(await kong.service.response.getRawBody()) ?? Buffer.alloc(0);
      const ct = String(headers?.['content-type'] ?? '');
      const needRequest = ct.includes('event-stream') || p.cfg.events.enabled || body.subarray(0, 16).toString('latin1').trimStart().startsWith('data:');
      const request = needRequest ? decodeCtx(CTX.request, await kong.ctx.shared.get(CTX.request)) : undefined;
      const d = processResponse(p, { status, headers, body, request });
      if (d.log) await kong.log[d.log.level](d.log.message);
      try {
        sink.emit(p.cfg, request?.request_id ?? '-', d.event);
      } catch {
        /* events never decide a response */
      }
      if (d.usage) await kong.ctx.shared.set(CTX.usage, encodeCtx(CTX.usage, d.usage));
      if (d.action === 'pass') return;
      // A Buffer goes to Kong as msgpack bin: a gzip/br body stays the same bytes.
      void kong.response.exit(d.status ?? status, d.body as Buffer, d.headers);
      return;
    } catch (e) {
      try {
        await kong.log.err(`[${PLUGIN}] response phase error: ${errorClass(e)}; ${this.failOpen ? 'passed' : 'withheld'}`);
      } catch {
        /* ignore */
      }
      if (this.failOpen) return;
      const w = withheldError();
      void kong.response.exit(w.status, w.body, w.headers);
    }
  }
}
