/**
 * llm-input-guard — Kong plugin (JavaScript PDK), access phase only, priority 1000.
 *
 * PDK calls in access (each one round trip):
 *   1 kong.request.getHeaders
 *   2 kong.request.getPath                  (only with endpoint = auto)
 *   - kong.request.getMethod               (only when there is no Content-Length)
 *   3 kong.ctx.shared.get('llm.identity')
 *   4 kong.request.getRawBody(cap)          (not when Content-Length is 0 or a pre-check denies)
 *   5 kong.service.request.setRawBody        (only when the body changed)
 *   6 kong.service.request.setHeader         (only when flagged)
 *   7 kong.ctx.shared.set('llm.request')     (or llm.decision + kong.response.exit on deny)
 */
import type { KongPdk } from '../core/pdk';
import { asBuffer } from '../core/pdk';
import { CTX, encodeCtx } from '../core/context';
import { unavailable } from '../core/errors';
import { failClosed, sendError } from '../core/handler';
import { hasContentLength, inspect, PLUGIN, preflight, prepare, type Decision, type GuardEventFields, type Prepared } from './guard';
import { Schema } from './schema';
import { getGuardEventSink, loadConfig } from './config';

export { Schema };
export const Name = PLUGIN;
export const Version = '0.1.0';
export const Priority = 1000;

export class Plugin {
  private readonly prepared?: Prepared;
  private readonly startError?: string;

  constructor(config: unknown) {
    try {
      this.prepared = prepare(loadConfig(config));
      if (this.prepared.rules.invalid.length > 0) {
        this.prepared = undefined;
        this.startError = 'invalid custom pattern';
      }
    } catch (e) {
      this.startError = e instanceof Error ? e.name : 'error';
    }
  }

  async access(kong: KongPdk): Promise<void> {
    await failClosed(kong, PLUGIN, async () => {
      const p = this.prepared;
      if (!p) {
        await kong.log.err(`[${PLUGIN}] plugin configuration unusable (${this.startError ?? 'unknown'}); refusing requests`);
        sendError(kong, unavailable('gateway_misconfigured'));
        return;
      }
      const headers = await kong.request.getHeaders();
      const path = p.cfg.endpoint === 'auto' ? await kong.request.getPath() : undefined;
      const method = hasContentLength(headers) ? undefined : await kong.request.getMethod();
      const identityRaw = await kong.ctx.shared.get(CTX.identity);
      const pre = preflight(p, { headers, path, identityRaw, method });
      let decision: Decision;
      if (pre.kind === 'read') {
        const raw = await kong.request.getRawBody(pre.cap);
        decision = inspect(p, pre.ctx, asBuffer(raw));
      } else {
        decision = pre.decision;
      }
      await apply(kong, p, decision);
    });
  }
}

async function apply(kong: KongPdk, p: Prepared, d: Decision): Promise<void> {
  if (d.event) {
    try {
      getGuardEventSink().emit(p.cfg, d.requestId, d.event);
    } catch {
      /* events never decide a request */
    }
  }
  if (d.action === 'deny') {
    await kong.ctx.shared.set(CTX.decision, encodeCtx(CTX.decision, { plugin: PLUGIN, reason: d.reason }));
    sendError(kong, d.error, { 'x-request-id': d.requestId });
    return;
  }
  if (d.body !== undefined) await kong.service.request.setRawBody(d.body);
  if (d.upstreamHeaders) for (const [k, v] of Object.entries(d.upstreamHeaders)) await kong.service.request.setHeader(k, v);
  await kong.ctx.shared.set(CTX.request, d.request);
}
