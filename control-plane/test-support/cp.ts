/**
 * Test harness: one control plane per test file, on a shared PGlite (start costs ~4 s) or on a
 * fresh Postgres database, with a fake (or real) Kong admin endpoint and a unique Redis prefix.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import Redis from 'ioredis';
import { f, type KongFieldEntry } from '../../plugins/core/schema';
import { TENANT_FIELD, TIER_FIELD } from '../../plugins/core/tenancy';
import { loadConfig } from '../src/config';
import { kyselyForPglite, openDatabase, type Db } from '../src/db';
import { migrateToLatest } from '../src/migrate';
import { buildApp } from '../src/app';
import { ensureBootstrapToken } from '../src/auth/bootstrap';
import { generateAdminToken, type Role } from '../src/auth/tokens';
import { NoopKeySync, RedisKeySync, type KeySync } from '../src/keys/key-sync';
import { keyRepo } from '../src/keys/keys.repository';
import { ConfigDelivery } from '../src/config/config.service';
import { loadPluginSchemas, type SchemaMap } from '../src/config/plugin-schemas';
import { startFakeKong, type FakeKong } from './fake-kong';
import { createTestDatabase } from './pg';

export type DbKind = 'pglite' | 'postgres';

export interface CallResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface TestCp {
  kind: DbKind;
  app: FastifyInstance;
  db: Db;
  delivery: ConfigDelivery;
  keySync: KeySync;
  kong?: FakeKong;
  redis?: Redis;
  prefix: string;
  schemas: SchemaMap;
  adminToken: string;
  call(method: string, url: string, o?: { token?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: string }): Promise<CallResult>;
  /** A new admin token with this role (optionally tenant-scoped), inserted directly. */
  token(role: Role, tenantId?: string | null): Promise<string>;
  close(): Promise<void>;
}

/** llm-auth's tiers/tenants fields, for tests that run before the plugin's schema exists. */
export const STAND_IN_AUTH_SCHEMA: KongFieldEntry[] = [{ tiers: f.array(TIER_FIELD, { default: [] }) }, { tenants: f.array(TENANT_FIELD, { default: [] }) }];

export async function testSchemas(): Promise<SchemaMap> {
  const s = await loadPluginSchemas();
  if (!s.has('llm-auth')) s.set('llm-auth', STAND_IN_AUTH_SCHEMA);
  return s;
}

export interface StartOptions {
  redis?: boolean;
  fakeKong?: boolean;
  kongAdminUrl?: string;
  kongConfigPath?: string;
  schemas?: SchemaMap;
  debounceMs?: number;
  env?: Record<string, string>;
}

export async function startTestCp(kind: DbKind, label: string, o: StartOptions = {}): Promise<TestCp> {
  const cleanups: Array<() => Promise<void>> = [];
  let db: Db;
  if (kind === 'pglite') {
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = new PGlite();
    await pglite.waitReady;
    db = await kyselyForPglite(pglite);
    cleanups.push(() => db.destroy());
  } else {
    const tdb = await createTestDatabase(label);
    const database = await openDatabase({ databaseUrl: tdb.url });
    db = database.db;
    cleanups.push(async () => {
      await database.close();
      await tdb.drop();
    });
  }
  await migrateToLatest(db);
  const prefix = `llg:t:${label}:${randomBytes(4).toString('hex')}:`;
  const schemas = o.schemas ?? (await testSchemas());
  const kong = o.fakeKong === false || o.kongAdminUrl ? undefined : await startFakeKong(schemas);
  if (kong) cleanups.push(() => kong.close());
  const cfg = loadConfig({
    REDIS_URL: o.redis ? 'redis://127.0.0.1:6379' : undefined,
    REDIS_KEY_PREFIX: prefix,
    KONG_ADMIN_URL: o.kongAdminUrl ?? kong?.url,
    KONG_CONFIG_PATH: o.kongConfigPath ?? '/nonexistent/kong.yml',
    CONFIG_PUSH_DEBOUNCE_MS: String(o.debounceMs ?? 50),
    KEY_ROTATION_OVERLAP_SECONDS: '3600',
    // Tests send many unauthenticated requests from one address; the throttle has its own test.
    ADMIN_AUTH_MAX_FAILURES: '0',
    ...o.env,
  });
  const silent = { info: () => {}, warn: () => {}, error: () => {} };
  const keySync: KeySync = cfg.redisUrl ? new RedisKeySync(cfg.redisUrl, prefix, () => keyRepo.all(db), silent, 200) : new NoopKeySync();
  const delivery = new ConfigDelivery({ db, kongAdminUrl: cfg.kongAdminUrl, kongConfigPath: cfg.kongConfigPath, debounceMs: cfg.configPushDebounceMs, log: silent, schemas, staticKeys: !cfg.redisUrl, redisKeyPrefix: prefix, redisUrl: cfg.redisUrl });
  const app = await buildApp({ db, config: cfg, keySync, delivery });
  const adminToken = generateAdminToken().token;
  await ensureBootstrapToken(db, { given: adminToken, file: '/dev/null/x' });
  let redis: Redis | undefined;
  if (o.redis) {
    redis = new Redis('redis://127.0.0.1:6379');
    cleanups.push(async () => {
      const keys = await redis!.keys(`${prefix}*`);
      if (keys.length) await redis!.del(...keys);
      await redis!.quit();
    });
  }
  return {
    kind,
    app,
    db,
    delivery,
    keySync,
    kong,
    redis,
    prefix,
    schemas,
    adminToken,
    async call(method, url, c = {}) {
      const headers: Record<string, string> = { ...(c.headers ?? {}) };
      const token = c.token === undefined ? adminToken : c.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined;
      if (c.rawBody !== undefined) payload = c.rawBody;
      else if (c.body !== undefined) {
        payload = JSON.stringify(c.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await app.inject({ method: method as 'GET', url, headers, payload });
      let body: unknown;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, body, headers: res.headers as CallResult['headers'], text: res.body };
    },
    async token(role, tenantId = null) {
      const t = generateAdminToken();
      await db.insertInto('admin_tokens').values({ id: `t-${randomBytes(6).toString('hex')}`, name: `${role}${tenantId ? '@' + tenantId : ''}`, role, tenant_id: tenantId, prefix: t.prefix, hash: t.hash }).execute();
      return t.token;
    },
    async close() {
      delivery.close();
      await app.close();
      await keySync.close();
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}
