/**
 * Environment configuration, validated once at start. Every problem is reported at once with the
 * variable's name, and the process refuses to start rather than run half-configured.
 */
import { isIP } from 'node:net';

export interface CpConfig {
  host: string;
  port: number;
  databaseUrl?: string;
  /** PGlite data directory when DATABASE_URL is absent; absent = in-memory. */
  pgliteDir?: string;
  redisUrl?: string;
  redisKeyPrefix: string;
  kongAdminUrl?: string;
  kongConfigPath: string;
  /** Bootstrap admin token from the environment (never logged). */
  adminToken?: string;
  /** Where a generated bootstrap token is written once (mode 0600). */
  adminTokenFile: string;
  /** IPs / CIDRs allowed to call the admin API; empty = any. */
  ipAllowlist: string[];
  /** Failed admin authentications per address per minute before 429 (0 = no throttle). */
  authMaxFailures: number;
  configPushDebounceMs: number;
  /** How often the gateway's configuration_hash is compared with the last push (0 = never). */
  driftCheckMs: number;
  keyRotationOverlapSeconds: number;
  migrateOnStart: boolean;
  logLevel: string;
  trustProxy: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid control-plane configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Record<string, string | undefined> = process.env): CpConfig {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${name}: must be an integer between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = str(name);
    if (raw === undefined) return def;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    problems.push(`${name}: must be true or false (got "${raw}")`);
    return def;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = str(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) problems.push(`${name}: protocol must be one of ${protocols.join(', ')}`);
    } catch {
      // Never echo the value: URLs may carry passwords.
      problems.push(`${name}: not a valid URL`);
    }
    return raw;
  };

  const ipAllowlist = (str('ADMIN_IP_ALLOWLIST') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of ipAllowlist) {
    const [addr, bits] = entry.split('/');
    const fam = isIP(addr ?? '');
    const maxBits = fam === 6 ? 128 : 32;
    if (!fam || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > maxBits))) {
      problems.push(`ADMIN_IP_ALLOWLIST: "${entry}" is not an IP address or CIDR`);
    }
  }

  const adminToken = str('ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 24) problems.push('ADMIN_TOKEN: must be at least 24 characters');

  const logLevel = str('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);

  const prefix = str('REDIS_KEY_PREFIX') ?? 'llg:';
  if (!/^[A-Za-z0-9:_.{}-]{1,64}$/.test(prefix)) problems.push('REDIS_KEY_PREFIX: 1-64 characters of A-Z a-z 0-9 : _ . - { }');

  const cfg: CpConfig = {
    host: str('HOST') ?? '127.0.0.1',
    port: int('PORT', 8001, 0, 65535),
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    pgliteDir: str('PGLITE_DIR'),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    redisKeyPrefix: prefix,
    kongAdminUrl: url('KONG_ADMIN_URL', ['http:', 'https:']),
    kongConfigPath: str('KONG_CONFIG_PATH') ?? str('KONG_BASE_CONFIG') ?? 'kong/kong.yml',
    adminToken,
    adminTokenFile: str('ADMIN_TOKEN_FILE') ?? '.control-plane/admin-token',
    ipAllowlist,
    authMaxFailures: int('ADMIN_AUTH_MAX_FAILURES', 20, 0, 1_000_000),
    configPushDebounceMs: int('CONFIG_PUSH_DEBOUNCE_MS', 500, 0, 600_000),
    driftCheckMs: int('CONFIG_DRIFT_CHECK_MS', 30_000, 0, 86_400_000),
    keyRotationOverlapSeconds: int('KEY_ROTATION_OVERLAP_SECONDS', 86_400, 0, 90 * 86_400),
    migrateOnStart: bool('MIGRATE_ON_START', true),
    logLevel,
    trustProxy: bool('TRUST_PROXY', false),
  };
  if (cfg.databaseUrl && cfg.pgliteDir) problems.push('PGLITE_DIR: set either DATABASE_URL or PGLITE_DIR, not both');
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}
