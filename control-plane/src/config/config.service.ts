/**
 * Config delivery: the control plane is the only writer of the gateway's DB-less config. It
 * renders (base kong.yml + owned data), validates against the plugins' schemas, stores every
 * distinct version, pushes with check_hash, diffs, rolls back and exports. Pushes are serialised;
 * changes to tiers/tenants/prices/identities schedule a debounced push.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { sha256Hex } from '../../../plugins/core/hash';
import { flattenFieldErrors, validateKongConfig } from '../../../plugins/core/schema';
import type { Db } from '../db';
import { AppError, badRequest, notFound } from '../errors';
import { tierToConfig } from '../tiers/tiers.service';
import { tenantToConfig } from '../tenants/tenants.service';
import { tierRepo } from '../tiers/tiers.repository';
import { tenantRepo } from '../tenants/tenants.repository';
import { priceRepo } from '../model-prices/model-prices.repository';
import { jwtIssuerRepo } from '../jwt-issuers/jwt-issuers.repository';
import { mtlsRepo } from '../mtls-identities/mtls-identities.repository';
import { collectPlugins, renderConfig, builtinBase, type DeclarativeConfig, type RenderResult } from './render';
import { loadPluginSchemas, LLM_PLUGINS, type SchemaMap } from './plugin-schemas';
import { pushConfig } from './push';
import { diffConfigs } from './diff';
import { configRepo } from './config.repository';
import { keyRepo } from '../keys/keys.repository';

export interface DeliveryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DeliveryOptions {
  db: Db;
  kongAdminUrl?: string;
  kongConfigPath: string;
  debounceMs: number;
  log: DeliveryLog;
  /** Injected in tests; loaded from plugins/<name>/schema.ts otherwise. */
  schemas?: SchemaMap;
  upstreamUrl?: string;
  /** No Redis: render active API keys (hashes only) into llm-auth's static `keys`. */
  staticKeys?: boolean;
  redisKeyPrefix?: string;
  /** REDIS_URL, used to fill llm-auth's `redis` when the base config has no host (never a password). */
  redisUrl?: string;
  /** A base config object used instead of kongConfigPath (dev: what the gateway runs). */
  base?: DeclarativeConfig;
}

export function redisTarget(url: string | undefined): { host: string; port?: number; database?: number } | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    if (u.password) return undefined; // a password belongs in a vault reference, not in rendered config
    const db = u.pathname.replace('/', '');
    return { host: u.hostname, port: u.port ? Number(u.port) : undefined, database: db ? Number(db) : undefined };
  } catch {
    return undefined;
  }
}

export interface PushResult {
  version: number | null;
  status: 'applied' | 'unchanged' | 'refused' | 'failed' | 'invalid' | 'not_pushed';
  hash?: string;
  bytes?: number;
  errors?: string[];
  warnings?: string[];
}

export class ConfigDelivery {
  private schemas: SchemaMap | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private pendingReasons: string[] = [];
  private scheduled: Promise<PushResult> | undefined;
  private resolveScheduled: ((r: PushResult) => void) | undefined;
  lastAutoPush: PushResult | undefined;
  private retryMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Kong's `configuration_hash` right after our last successful push. */
  private gatewayHash: string | undefined;
  private driftTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: DeliveryOptions) {
    this.schemas = o.schemas;
  }

  get kongAdminUrl(): string | undefined {
    return this.o.kongAdminUrl;
  }

  async getSchemas(): Promise<SchemaMap> {
    if (!this.schemas) this.schemas = await loadPluginSchemas();
    return this.schemas;
  }

  /** Re-import the plugins' schema modules (after a plugin landed or changed). */
  async reloadSchemas(): Promise<void> {
    this.schemas = this.o.schemas ?? (await loadPluginSchemas());
  }

  loadBase(): DeclarativeConfig {
    if (this.o.base) return structuredClone(this.o.base);
    const path = this.o.kongConfigPath;
    if (!existsSync(path)) return builtinBase(this.o.upstreamUrl);
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(path, 'utf8'));
    } catch {
      throw new AppError('conflict', `the base config ${path} is not valid YAML`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new AppError('conflict', `the base config ${path} is not a decK document`);
    return parsed as DeclarativeConfig;
  }

  async render(db: Db = this.o.db): Promise<RenderResult> {
    const tiers = await tierRepo.all(db);
    const tenants = await tenantRepo.all(db);
    const prices = await priceRepo.all(db);
    const jwtIssuers = await jwtIssuerRepo.all(db);
    const mtls = await mtlsRepo.all(db);
    const staticKeys = this.o.staticKeys ? await keyRepo.activeAt(db, new Date()) : undefined;
    const schemas = await this.getSchemas();
    return renderConfig({
      base: this.loadBase(),
      tiers: tiers.map(tierToConfig),
      tenants: tenants.map(tenantToConfig),
      prices: prices.map((p) => ({ ...p, input_per_m_usd: Number(p.input_per_m_usd), output_per_m_usd: Number(p.output_per_m_usd), cached_input_per_m_usd: p.cached_input_per_m_usd === null ? null : Number(p.cached_input_per_m_usd) })),
      jwtIssuers,
      mtlsIdentities: mtls,
      staticKeys,
      redisKeyPrefix: this.o.redisKeyPrefix,
      redis: redisTarget(this.o.redisUrl),
      schemas,
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Store (when new) and push one config; never throws for Kong-side failures. */
  private async storeAndPush(config: DeclarativeConfig, reason: string, by: string, forceNewVersion = false): Promise<PushResult> {
    const body = JSON.stringify(config);
    const hash = sha256Hex(body);
    const latest = await configRepo.latest(this.o.db);
    let version: number;
    if (latest && latest.hash === hash && !forceNewVersion) version = latest.version;
    else version = (await configRepo.insert(this.o.db, { hash, config: body, reason, created_by: by })).version;
    if (!this.o.kongAdminUrl) {
      await configRepo.setStatus(this.o.db, version, 'not_pushed', null);
      return { version, status: 'not_pushed', hash, bytes: Buffer.byteLength(body) };
    }
    const out = await pushConfig(this.o.kongAdminUrl, config, { body });
    if (out.status === 'applied' || out.status === 'unchanged') {
      await configRepo.setStatus(this.o.db, version, out.status, null);
      this.gatewayHash = await this.fetchGatewayHash();
      this.o.log.info({ version, status: out.status, bytes: out.bytes }, 'gateway config pushed');
      return { version, status: out.status, hash, bytes: out.bytes };
    }
    if (out.status !== 'refused' && out.status !== 'failed') throw new Error('unreachable');
    await configRepo.setStatus(this.o.db, version, out.status, out.errors.join('\n').slice(0, 10_000));
    this.o.log.warn({ version, status: out.status, http_status: out.httpStatus, errors: out.errors.slice(0, 20) }, 'gateway config push failed');
    return { version, status: out.status, hash, bytes: out.bytes, errors: out.errors };
  }

  /** Render, validate, store, push. Invalid renders are not stored. */
  push(reason: string, by: string): Promise<PushResult> {
    return this.serial(async () => {
      const r = await this.render();
      if (r.errors.length) {
        this.o.log.warn({ errors: r.errors.slice(0, 20) }, 'rendered gateway config is invalid; not pushed');
        return { version: null, status: 'invalid', errors: r.errors, warnings: r.warnings };
      }
      const res = await this.storeAndPush(r.config, reason, by);
      return { ...res, warnings: r.warnings };
    });
  }

  /** Debounced automatic push (changes within the window are coalesced into one push). */
  schedulePush(reason: string): void {
    this.pendingReasons.push(reason);
    if (!this.scheduled) this.scheduled = new Promise<PushResult>((res) => (this.resolveScheduled = res));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fire(), this.o.debounceMs);
    this.timer.unref?.();
  }

  private async fire(): Promise<PushResult> {
    this.timer = undefined;
    const reasons = this.pendingReasons.splice(0);
    const resolve = this.resolveScheduled;
    this.scheduled = undefined;
    this.resolveScheduled = undefined;
    let result: PushResult;
    try {
      result = await this.push(reasons.slice(0, 5).join('; ') + (reasons.length > 5 ? ` (+${reasons.length - 5} more)` : ''), 'auto');
    } catch (err) {
      this.o.log.error({ err_class: (err as Error)?.name ?? 'Error' }, 'automatic config push failed');
      result = { version: null, status: 'failed', errors: ['internal error during push'] };
    }
    this.lastAutoPush = result;
    this.afterAutoPush(result);
    resolve?.(result);
    return result;
  }

  /** An unreachable gateway (or a 5xx) is retried with backoff (1 s … 30 s); refusals wait for a change. */
  private afterAutoPush(result: PushResult): void {
    if (result.status !== 'failed') {
      this.retryMs = 0;
      return;
    }
    this.retryMs = Math.min(30_000, this.retryMs ? this.retryMs * 2 : 1_000);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedulePush('retry after a failed push');
    }, this.retryMs);
    this.retryTimer.unref?.();
  }

  /** Run a scheduled push now and wait for it (tests, shutdown). */
  async flush(): Promise<PushResult | undefined> {
    if (this.timer) {
      clearTimeout(this.timer);
      return this.fire();
    }
    if (this.scheduled) return this.scheduled;
    await this.chain;
    return this.lastAutoPush;
  }

  private async fetchGatewayHash(): Promise<string | undefined> {
    if (!this.o.kongAdminUrl) return undefined;
    try {
      const r = await fetch(`${this.o.kongAdminUrl.replace(/\/+$/, '')}/status`, { signal: AbortSignal.timeout(5_000) });
      if (!r.ok) return undefined;
      const h = ((await r.json()) as { configuration_hash?: unknown }).configuration_hash;
      return typeof h === 'string' && h.length > 0 ? h : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Drift: when the gateway's configuration_hash is no longer the one it reported after our last
   * push (Kong restarted on its file, or someone else POSTed /config), push again. Returns the
   * push result when a re-push happened.
   */
  async checkDrift(): Promise<PushResult | undefined> {
    if (!this.o.kongAdminUrl || !this.gatewayHash) return undefined;
    const now = await this.fetchGatewayHash();
    if (!now || now === this.gatewayHash) return undefined;
    this.o.log.warn({ expected: this.gatewayHash, found: now }, 'gateway config changed outside the control plane; pushing again');
    return this.push('gateway config drifted', 'drift-check');
  }

  startDriftCheck(intervalMs: number): void {
    if (this.driftTimer || intervalMs <= 0) return;
    this.driftTimer = setInterval(() => {
      this.checkDrift().catch(() => undefined);
    }, intervalMs);
    this.driftTimer.unref?.();
  }

  /** Check a stored config's llm-* plugins against the current schemas. */
  async validateStored(config: DeclarativeConfig): Promise<string[]> {
    const schemas = await this.getSchemas();
    const errors: string[] = [];
    for (const { plugin, where } of collectPlugins(config)) {
      const name = plugin.name as string;
      if (!(LLM_PLUGINS as readonly string[]).includes(name)) continue;
      const schema = schemas.get(name);
      if (!schema) {
        errors.push(`${where} (${name}): the plugin's schema is not available`);
        continue;
      }
      const res = validateKongConfig(schema, plugin.config ?? {});
      if (!res.ok) for (const line of flattenFieldErrors(res.errors)) errors.push(`${where} (${name}).config.${line}`);
    }
    return errors;
  }

  rollback(version: number, by: string): Promise<PushResult> {
    return this.serial(async () => {
      const row = await configRepo.get(this.o.db, version);
      if (!row) throw notFound('config version');
      const errors = await this.validateStored(row.config);
      if (errors.length) throw badRequest(`version ${version} is not valid for the current plugins: ${errors.slice(0, 10).join('; ')}`, { errors });
      return this.storeAndPush(row.config, `rollback to version ${version}`, by, true);
    });
  }

  async diff(from?: number, to?: number): Promise<{ from: number | 'gateway' | null; to: number | 'current'; changes: ReturnType<typeof diffConfigs> }> {
    let a: unknown = {};
    let fromLabel: number | null = null;
    if (from !== undefined) {
      const row = await configRepo.get(this.o.db, from);
      if (!row) throw notFound('config version');
      a = row.config;
      fromLabel = row.version;
    } else {
      const row = await configRepo.latestApplied(this.o.db);
      if (row) {
        a = row.config;
        fromLabel = row.version;
      }
    }
    let b: unknown;
    let toLabel: number | 'current';
    if (to !== undefined) {
      const row = await configRepo.get(this.o.db, to);
      if (!row) throw notFound('config version');
      b = row.config;
      toLabel = row.version;
    } else {
      const r = await this.render();
      if (r.errors.length) throw badRequest(`the current config is invalid: ${r.errors.slice(0, 10).join('; ')}`, { errors: r.errors });
      b = JSON.parse(JSON.stringify(r.config));
      toLabel = 'current';
    }
    return { from: fromLabel, to: toLabel, changes: diffConfigs(a, b) };
  }

  async exportConfig(format: 'yaml' | 'json'): Promise<string> {
    const r = await this.render();
    if (r.errors.length) throw badRequest(`the current config is invalid: ${r.errors.slice(0, 10).join('; ')}`, { errors: r.errors });
    if (format === 'json') return JSON.stringify(r.config, null, 2);
    return `# Rendered by the kong-llm-guard control plane (do not edit: it owns the llm-* plugin data).\n${toYaml(r.config, { lineWidth: 0 })}`;
  }

  /** Cancel a scheduled push (shutdown); a caller waiting in flush() gets `failed`. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.driftTimer) clearInterval(this.driftTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
    this.driftTimer = undefined;
    this.pendingReasons = [];
    const resolve = this.resolveScheduled;
    this.scheduled = undefined;
    this.resolveScheduled = undefined;
    resolve?.({ version: null, status: 'failed', errors: ['cancelled: the control plane is stopping'] });
  }
}
