/**
 * llm-token-limit — requests, tokens and concurrency per tenant (and optionally globally), in
 * one atomic Redis script call per decision; reservations settled in the log phase.
 *
 * PDK calls — access: 1 ctx read (2 when llm.request is absent) + 1 (setHeaders when admitted,
 * or exit when refused). Log: ctx reads + response source/status, only when something must be
 * settled.
 */
import { CTX, decodeCtx, encodeCtx } from '../core/context';
import { unavailable } from '../core/errors';
import type { GatewayEvent } from '../core/events';
import { errorClass, failClosed, logSafely, sendError } from '../core/handler';
import type { KongPdk } from '../core/pdk';
import type { RedisSettings } from '../core/redis/client';
import { writeEvents } from '../core/redis/events';
import { settleAction } from '../core/settle';
import { decide, redisSettings, settle, testNow } from './limiter';
import {
  PLUGIN,
  compileWeights,
  denialError,
  limitEvent,
  limitHeaders,
  planRequest,
  reports,
  subjectFromConfig,
  subjectFromIdentity,
  subjectFromRequest,
  weighTokens,
  type DimReport,
  type Plan,
  type Subject,
  type WeightMatcher,
} from './plan';
import { Schema as ConfigSchema, type TokenLimitConfig } from './schema';

export const Name = PLUGIN;
export const Version = '0.1.0';
export const Priority = 912;
export const Schema = ConfigSchema;

export class Plugin {
  private readonly cfg: TokenLimitConfig;
  private readonly weights: WeightMatcher = () => 1;
  private readonly settings: RedisSettings = {};
  private readonly error: unknown;

  constructor(config: TokenLimitConfig) {
    this.cfg = config;
    try {
      this.weights = compileWeights(config.model_weights ?? {});
      this.settings = redisSettings(config);
    } catch (e) {
      this.error = e;
    }
  }

  private async subject(kong: KongPdk): Promise<Subject | undefined> {
    const req = decodeCtx(CTX.request, await kong.ctx.shared.get(CTX.request));
    if (req) return subjectFromRequest(req);
    const id = decodeCtx(CTX.identity, await kong.ctx.shared.get(CTX.identity));
    if (id) return subjectFromIdentity(id, this.cfg);
    return undefined;
  }

  private emit(events: GatewayEvent[]): void {
    if (!this.cfg.limit_events || events.length === 0) return;
    void writeEvents(this.settings, { prefix: this.cfg.redis_key_prefix ?? 'llg:', maxlen: this.cfg.events_maxlen ?? 100_000 }, events).catch(() => {});
  }

  async access(kong: KongPdk): Promise<void> {
    await failClosed(kong, PLUGIN, async () => {
      if (this.error) throw this.error;
      const cfg = this.cfg;
      let subject = await this.subject(kong);
      if (!subject) {
        if (cfg.require_identity) {
          sendError(kong, unavailable('identity_missing'));
          return;
        }
        subject = subjectFromConfig(cfg);
      }
      const plan = planRequest(cfg, subject, this.weights);
      if (plan.tenant.dims.length === 0 && !plan.global) return;
      const rid = subject.request_id;
      const shadow = cfg.mode === 'shadow';
      const now = () => testNow() ?? Date.now();

      let fellBack = false;
      const first = await decide(cfg, this.settings, plan.tenant, plan.tokens, rid);
      fellBack ||= first.fellBack;
      let all: DimReport[] = reports(plan.tenant, first.result);
      let refused: { call: typeof plan.tenant; result: typeof first.result; via: 'redis' | 'local' } | undefined = first.result.allowed ? undefined : { call: plan.tenant, result: first.result, via: first.via };

      if (plan.global && (first.result.allowed || shadow)) {
        const g = await decide(cfg, this.settings, plan.global, plan.tokens, rid);
        fellBack ||= g.fellBack;
        all = all.concat(reports(plan.global, g.result));
        if (!g.result.allowed && !refused) {
          refused = { call: plan.global, result: g.result, via: g.via };
          // All or nothing across the two calls: give the tenant's debit back.
          if (first.result.allowed && !shadow) await settle(cfg, this.settings, plan.tenant, rid, 'rollback', 0);
        }
      }
      if (fellBack) await kong.log.warn(`[${PLUGIN}] Redis unreachable: deciding with local counters (fault_tolerant)`);

      if (refused) {
        const r = refused.result;
        const failed = r.failIndex >= 0 ? refused.call.dims[r.failIndex] : undefined;
        const failedReport = failed ? all.find((x) => x.dim === failed) : undefined;
        this.emit([limitEvent(now(), plan, cfg, failed, r.duplicate ? 'duplicate_request_id' : 'limit_exceeded', r.retryMs, refused.via)]);
        if (!shadow) {
          const headers = cfg.headers ? limitHeaders(all, failedReport, r.retryMs) : {};
          if (r.duplicate) {
            // The log phase must not settle the in-flight request that owns this id.
            await kong.ctx.shared.set(CTX.decision, encodeCtx(CTX.decision, { plugin: PLUGIN, reason: 'duplicate_request_id' }));
          }
          sendError(kong, denialError(failed, r.retryMs, headers));
          return;
        }
      }
      if (cfg.headers) await kong.response.setHeaders(limitHeaders(all));
    });
  }

  async log(kong: KongPdk): Promise<void> {
    await logSafely(kong, PLUGIN, async () => {
      if (this.error) return;
      const cfg = this.cfg;
      const subject = await this.subject(kong);
      if (!subject || subject.request_id === '') return;
      const plan = planRequest(cfg, subject, this.weights);
      const calls = [plan.tenant, ...(plan.global ? [plan.global] : [])].filter((c) => c.writeRecord);
      if (calls.length === 0) return;
      const source = await kong.response.getSource();
      const status = await kong.response.getStatus();
      if (source === 'exit' && status === 429) {
        const d = decodeCtx(CTX.decision, await kong.ctx.shared.get(CTX.decision));
        if (d?.plugin === PLUGIN) return;
      }
      const usage = decodeCtx(CTX.usage, await kong.ctx.shared.get(CTX.usage));
      const action = settleAction({ source, status, usage });
      const actual = action.action === 'actual' ? weighTokens(action.usage.total_tokens, plan.weight) : 0;
      for (const call of calls) {
        try {
          await settle(cfg, this.settings, call, subject.request_id, action.action, actual);
        } catch (e) {
          await kong.log.warn(`[${PLUGIN}] settle failed: ${errorClass(e)}`);
        }
      }
    });
  }
}

export type { Plan };
