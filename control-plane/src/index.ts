/**
 * startControlPlane(): for `npm run dev`. Starts the control plane on in-memory PGlite, seeds a
 * demo tenant with one API key, pushes the config to the gateway, and returns the key (to print
 * once on the terminal) and an admin token. Nothing here logs either secret.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from './config';
import { createControlPlane } from './server';
import { generateAdminToken } from './auth/tokens';
import { tenantService } from './tenants/tenants.service';
import { keyService } from './keys/keys.service';
import type { PushResult } from './config/config.service';

export interface StartOptions {
  port: number;
  kongAdminUrl: string;
  redisUrl?: string;
  host?: string;
  /** Default `llg:`. */
  redisKeyPrefix?: string;
  /** Default kong/kong.yml (built-in base when absent). */
  kongConfigPath?: string;
  /** PGlite directory (default in-memory). */
  pgliteDir?: string;
  demoTenantId?: string;
  demoTier?: string;
  logLevel?: string;
  /** Base declarative config object (instead of kongConfigPath). */
  baseConfig?: Record<string, unknown>;
  /** Keep the admin token in this file (0600, reused across runs); default: in memory only. */
  adminTokenFile?: string;
}

export interface StartedControlPlane {
  url: string;
  adminToken: string;
  demo: { tenantId: string; apiKey: string };
  push: PushResult;
  stop(): Promise<void>;
}

export async function startControlPlane(o: StartOptions): Promise<StartedControlPlane> {
  const cfg = loadConfig({
    HOST: o.host ?? '127.0.0.1',
    PORT: String(o.port),
    KONG_ADMIN_URL: o.kongAdminUrl,
    REDIS_URL: o.redisUrl,
    REDIS_KEY_PREFIX: o.redisKeyPrefix,
    KONG_CONFIG_PATH: o.kongConfigPath,
    PGLITE_DIR: o.pgliteDir,
    CONFIG_PUSH_DEBOUNCE_MS: '200',
    LOG_LEVEL: o.logLevel ?? 'warn',
    ADMIN_TOKEN_FILE: o.adminTokenFile ?? '/dev/null/unused',
  });
  const given = o.adminTokenFile ? undefined : generateAdminToken().token;
  const cp = await createControlPlane(cfg, { bootstrapToken: given, baseConfig: o.baseConfig });
  const adminToken = given ?? readFileSync(o.adminTokenFile as string, 'utf8').trim();
  try {
    const ctx = { actor: { tokenId: 'bootstrap', name: 'dev-seed', role: 'admin' as const, tenantId: null }, requestId: 'dev-seed' };
    const tenantId = o.demoTenantId ?? 'demo';
    const existing = await cp.database.db.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst();
    if (!existing) await tenantService.create(cp.database.db, ctx, { id: tenantId, name: 'Demo team', tier: o.demoTier ?? 'balanced' });
    const { row, secret } = await keyService.create(cp.database.db, ctx, tenantId, { name: 'demo key' });
    await cp.keySync.write([row]);
    const push = await cp.delivery.push('dev start', 'dev-seed');
    return { url: cp.url, adminToken, demo: { tenantId, apiKey: secret }, push, stop: () => cp.stop() };
  } catch (err) {
    await cp.stop().catch(() => undefined);
    throw err;
  }
}

export { buildApp } from './app';
export { loadConfig } from './config';
