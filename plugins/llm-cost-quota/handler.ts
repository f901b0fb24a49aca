/**
 * llm-cost-quota (priority 906, access + log): money budgets per key lineage, tenant and global,
 * day and month in the tenant's timezone; reserve worst case in access, settle in log.
 *
 * PDK calls — access: 1 ctx read (`llm.request`; +1 for `llm.identity` without the input guard)
 * + 1 for headers (only with budget_headers) or 2 on denial (llm.decision + exit).
 * Log: 3 ctx reads (+1 without the guard), kong.log.serialize, kong.response.get_source when the
 * serializer lacks it.
 */
import { CTX, decodeCtx, type LlmIdentity, type LlmRequest } from '../core/context';
import { unavailable } from '../core/errors';
import { deny, failClosed, logSafely, sendError, errorClass } from '../core/handler';
import type { KongPdk } from '../core/pdk';
import { writeEvents } from '../core/redis/events';
import { validateKongConfig, flattenFieldErrors } from '../core/schema';
import type { GatewayEvent } from '../core/events';
import { CostQuota, PLUGIN, type QuotaSubject } from './quota';
import { CONFIG_FIELDS, Schema, type CostQuotaConfig } from './schema';

export { Schema };
export const Name = PLUGIN;
export const Version = '0.1.0';
export const Priority = 906;

const FIELD_NAMES = new Set(Object.keys(CONFIG_FIELDS));
const LOG_EVERY_MS = 10_000;
let lastDegradedLog = 0;

/** Kong's own keys (route_id, __seq__, $refs, ...) dropped; defaults filled as Kong does. */
export function buildEngine(raw: unknown): CostQuota {
  const picked: Record<string, unknown> = {};
  if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) if (FIELD_NAMES.has(k)) picked[k] = v;
  const r = validateKongConfig<CostQuotaConfig>(Schema, picked);
  if (!r.ok) throw new Error(`invalid config: ${flattenFieldErrors(r.errors).map((l) => l.split(':')[0]).join(', ')}`);
  return new CostQuota(r.value);
}

async function readSubject(kong: KongPdk, engine: CostQuota): Promise<QuotaSubject | undefined> {
  const req = decodeCtx(CTX.request, await kong.ctx.shared.get(CTX.request)) as LlmRequest | undefined;
  let identity: LlmIdentity | undefined;
  if (!req) identity = decodeCtx(CTX.identity, await kong.ctx.shared.get(CTX.identity));
  return engine.subject(req, identity);
}

export class Plugin {
  private readonly engine?: CostQuota;
  private readonly startError?: string;

  constructor(config: unknown) {
    try {
      this.engine = buildEngine(config);
    } catch (e) {
      // Never throw from the constructor (StartInstance would fail with a 500): refuse in access.
      this.startError = e instanceof Error && e.message.startsWith('invalid config') ? e.message : errorClass(e);
    }
  }

  private emit(events: GatewayEvent[]): void {
    const e = this.engine!;
    if (events.length) void writeEvents(e.redisSettings, { prefix: e.config.redis_key_prefix, maxlen: e.config.events_maxlen }, events);
  }

  private async noteDegraded(kong: KongPdk, via: string, strict: boolean): Promise<void> {
    const now = Date.now();
    if (now - lastDegradedLog < LOG_EVERY_MS) return;
    lastDegradedLog = now;
    if (strict) await kong.log.err(`[${PLUGIN}] Redis unavailable: refusing requests (fault_tolerant = false)`);
    else if (via === 'local') await kong.log.warn(`[${PLUGIN}] Redis unavailable: budgets enforced in memory on this node`);
  }

  async access(kong: KongPdk): Promise<void> {
    await failClosed(kong, PLUGIN, async () => {
      const engine = this.engine;
      if (!engine) {
        await kong.log.err(`[${PLUGIN}] plugin not started: ${this.startError ?? 'unknown'}`);
        sendError(kong, unavailable());
        return;
      }
      const subject = await readSubject(kong, engine);
      if (!subject) {
        if (engine.config.require_identity) {
          sendError(kong, unavailable('identity_missing'));
        }
        return;
      }
      const r = await engine.admit(subject, Date.now());
      this.emit(r.events);
      if (r.kind === 'deny') {
        if (r.reason === 'redis_unavailable') await this.noteDegraded(kong, 'none', true);
        await deny(kong, PLUGIN, r.reason, r.error);
        return;
      }
      if (r.via === 'local') await this.noteDegraded(kong, 'local', false);
      if (r.headers) await kong.response.setHeaders(r.headers);
    });
  }

  async log(kong: KongPdk): Promise<void> {
    await logSafely(kong, PLUGIN, async () => {
      const engine = this.engine;
      if (!engine) return;
      const subject = await readSubject(kong, engine);
      if (!subject) return;
      const usage = decodeCtx(CTX.usage, await kong.ctx.shared.get(CTX.usage));
      const decision = decodeCtx(CTX.decision, await kong.ctx.shared.get(CTX.decision));
      let ser: { response?: { status?: number }; latencies?: { request?: number; proxy?: number }; source?: string } = {};
      try {
        const raw: unknown = await kong.log.serialize();
        if (typeof raw === 'string') ser = JSON.parse(raw);
        else if (raw && typeof raw === 'object') ser = raw as typeof ser;
      } catch {
        /* serializer unavailable: status from the response below */
      }
      const source = typeof ser.source === 'string' ? ser.source : await kong.response.getSource();
      const status = typeof ser.response?.status === 'number' ? ser.response.status : await kong.response.getStatus();
      const out = await engine.settle(
        { subject, usage, decision, source, status, latency_ms: ser.latencies?.request, upstream_latency_ms: ser.latencies?.proxy },
        Date.now(),
      );
      this.emit(out.events);
      if (out.via === 'local') await this.noteDegraded(kong, 'local', false);
    });
  }
}
