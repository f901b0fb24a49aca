/**
 * Entry for `npm run dev` (scripts/dev.ts imports this file): startControlPlane() with the dev
 * defaults — the base config is what the gateway currently runs (GET {kongAdminUrl}/config, i.e.
 * kong/kong.yml as localized for this machine), the admin token lives in
 * control-plane/.data/admin-token (mode 0600, reused across runs), the database is in-memory PGlite.
 */
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startControlPlane as start, type StartOptions, type StartedControlPlane } from './index';

export type { StartOptions, StartedControlPlane };

const ROOT = resolve(__dirname, '..', '..');

async function gatewayConfig(adminUrl: string): Promise<Record<string, unknown> | undefined> {
  try {
    const r = await fetch(`${adminUrl.replace(/\/+$/, '')}/config`, { signal: AbortSignal.timeout(5_000) });
    if (!r.ok) return undefined;
    const body = (await r.json()) as { config?: unknown };
    const cfg = typeof body.config === 'string' ? parseYaml(body.config) : body.config;
    return cfg && typeof cfg === 'object' ? (cfg as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function startControlPlane(o: StartOptions): Promise<StartedControlPlane> {
  const baseConfig = o.baseConfig ?? (o.kongConfigPath ? undefined : await gatewayConfig(o.kongAdminUrl));
  return start({ adminTokenFile: join(ROOT, 'control-plane', '.data', 'admin-token'), ...o, baseConfig });
}
