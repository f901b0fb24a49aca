/**
 * Process entry: `tsx control-plane/src/server.ts`. Validates the environment, opens the
 * database (Postgres or PGlite), migrates, ensures the bootstrap admin token, starts the API and
 * pushes the current config once.
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type CpConfig } from './config';
import { openDatabase, type Database } from './db';
import { migrateToLatest } from './migrate';
import { ensureBootstrapToken, type BootstrapResult } from './auth/bootstrap';
import { NoopKeySync, RedisKeySync, type KeySync } from './keys/key-sync';
import { keyRepo } from './keys/keys.repository';
import { LastUsedTracker } from './keys/last-used';
import { ConfigDelivery } from './config/config.service';
import { buildApp } from './app';

export interface RunningControlPlane {
  app: FastifyInstance;
  url: string;
  database: Database;
  keySync: KeySync;
  delivery: ConfigDelivery;
  bootstrap: BootstrapResult;
  stop(): Promise<void>;
}

export interface CreateOptions {
  /** Use this bootstrap token instead of ADMIN_TOKEN / the token file (dev). */
  bootstrapToken?: string;
  logger?: boolean | Record<string, unknown>;
  listen?: boolean;
  upstreamUrl?: string;
  /** Base declarative config object instead of KONG_CONFIG_PATH. */
  baseConfig?: Record<string, unknown>;
}

export async function createControlPlane(cfg: CpConfig, opts: CreateOptions = {}): Promise<RunningControlPlane> {
  const database = await openDatabase(cfg);
  const db = database.db;
  try {
    if (cfg.migrateOnStart) await migrateToLatest(db);
    const bootstrap = await ensureBootstrapToken(db, { envToken: cfg.adminToken, file: cfg.adminTokenFile, given: opts.bootstrapToken });
    const logger = opts.logger ?? { level: cfg.logLevel };
    const log = {
      info: (o: object, m: string) => app?.log.info(o, m),
      warn: (o: object, m: string) => app?.log.warn(o, m),
      error: (o: object, m: string) => app?.log.error(o, m),
    };
    const keySync: KeySync = cfg.redisUrl ? new RedisKeySync(cfg.redisUrl, cfg.redisKeyPrefix, () => keyRepo.all(db), log) : new NoopKeySync();
    const delivery = new ConfigDelivery({ db, kongAdminUrl: cfg.kongAdminUrl, kongConfigPath: cfg.kongConfigPath, debounceMs: cfg.configPushDebounceMs, log, upstreamUrl: opts.upstreamUrl, staticKeys: !cfg.redisUrl, redisKeyPrefix: cfg.redisKeyPrefix, redisUrl: cfg.redisUrl, base: opts.baseConfig });
    // eslint-disable-next-line prefer-const
    let app: FastifyInstance = await buildApp({ db, config: cfg, keySync, delivery }, { logger });
    let url = '';
    if (opts.listen !== false) url = await app.listen({ host: cfg.host, port: cfg.port });
    app.log.info(
      { bootstrap_token: bootstrap.prefix + '…', source: bootstrap.source, file: bootstrap.file, database: database.kind, redis: keySync.enabled, kong_admin: Boolean(cfg.kongAdminUrl) },
      'control plane started',
    );
    if (!keySync.enabled) app.log.warn({}, "REDIS_URL not set: API keys are delivered in llm-auth's static keys list (config push on every key change)");
    if (cfg.kongAdminUrl) delivery.startDriftCheck(cfg.driftCheckMs);
    const lastUsed = cfg.redisUrl ? new LastUsedTracker(cfg.redisUrl, cfg.redisKeyPrefix, db) : undefined;
    lastUsed?.start();
    return {
      app,
      url,
      database,
      keySync,
      delivery,
      bootstrap,
      async stop() {
        delivery.close();
        await lastUsed?.close();
        await app.close();
        await keySync.close();
        await database.close();
      },
    };
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
}

async function main(): Promise<void> {
  let cfg: CpConfig;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const cp = await createControlPlane(cfg);
  if (cfg.kongAdminUrl) {
    const r = await cp.delivery.push('control plane start', 'system');
    cp.app.log.info({ status: r.status, version: r.version, errors: r.errors?.slice(0, 10) }, 'initial config push');
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await cp.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`control plane failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
