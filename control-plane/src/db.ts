/**
 * Database: Kysely over `pg` when DATABASE_URL is set, else embedded PGlite (a directory, or
 * in-memory). Versions pinned for Node 20: kysely 0.28.18, kysely-pglite-dialect 1.3.1,
 * @electric-sql/pglite 0.4.6. PGlite serialises every query on one connection: inside a
 * transaction, use the transaction handle only (a query on `db` would wait for ever).
 */
import { Kysely, PostgresDialect, type ColumnType, type Generated } from 'kysely';
import { Pool, types } from 'pg';
import type { CpConfig } from './config';

/** jsonb: read as a value, written as a JSON string. */
type Json<T> = ColumnType<T, string, string>;
type JsonNullable<T> = ColumnType<T | null, string | null | undefined, string | null>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type TimestampNullable = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface TiersTable {
  name: string;
  description: Generated<string>;
  limits: Json<Record<string, unknown>>;
  budgets: Json<Record<string, unknown>>;
  input: Json<Record<string, unknown>>;
  models: Json<string[]>;
  features: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TenantsTable {
  id: string;
  name: string;
  tier: string;
  timezone: Generated<string>;
  disabled: Generated<boolean>;
  limits: Json<Record<string, unknown>>;
  budgets: Json<Record<string, unknown>>;
  input: Json<Record<string, unknown>>;
  models: JsonNullable<string[]>;
  features: JsonNullable<string[]>;
  consumers: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  lineage_id: string;
  name: string;
  prefix: string;
  hash: string;
  scopes: JsonNullable<{ models?: string[]; features?: string[] }>;
  expires_at: TimestampNullable;
  revoked_at: TimestampNullable;
  rotated_from: string | null;
  rotated_to: string | null;
  last_used_at: TimestampNullable;
  created_at: Timestamp;
}

export interface JwtIssuersTable {
  id: string;
  tenant_id: string;
  issuer: string;
  audiences: Json<string[]>;
  algorithms: Json<string[]>;
  jwks_url: string | null;
  public_key_pem: string | null;
  claims: Json<Record<string, string>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MtlsIdentitiesTable {
  id: string;
  tenant_id: string;
  fingerprint_sha256: string | null;
  subject: string | null;
  description: Generated<string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ModelPricesTable {
  model: string;
  input_per_m_usd: number;
  output_per_m_usd: number;
  cached_input_per_m_usd: number | null;
  aliases: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AdminTokensTable {
  id: string;
  name: string;
  role: 'admin' | 'operator' | 'viewer';
  tenant_id: string | null;
  prefix: string;
  hash: string;
  expires_at: TimestampNullable;
  revoked_at: TimestampNullable;
  last_used_at: TimestampNullable;
  created_at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<number>;
  ts: Timestamp;
  request_id: string;
  actor_id: string;
  actor_name: string;
  action: string;
  entity: string;
  entity_id: string;
  tenant_id: string | null;
  before: JsonNullable<unknown>;
  after: JsonNullable<unknown>;
}

export interface ConfigVersionsTable {
  version: Generated<number>;
  created_at: Timestamp;
  hash: string;
  config: Json<Record<string, unknown>>;
  reason: string;
  created_by: string;
  push_status: Generated<string>;
  push_error: string | null;
  pushed_at: TimestampNullable;
}

export interface IdempotencyKeysTable {
  token_id: string;
  key: string;
  request_hash: string;
  status_code: number | null;
  response: JsonNullable<unknown>;
  created_at: Timestamp;
}

export interface DB {
  tiers: TiersTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  jwt_issuers: JwtIssuersTable;
  mtls_identities: MtlsIdentitiesTable;
  model_prices: ModelPricesTable;
  admin_tokens: AdminTokensTable;
  audit_log: AuditLogTable;
  config_versions: ConfigVersionsTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type Db = Kysely<DB>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

// double precision comes back as a string from node-postgres by default in some setups: parse it.
types.setTypeParser(701, (v) => Number(v));

export async function openDatabase(cfg: Pick<CpConfig, 'databaseUrl' | 'pgliteDir'>): Promise<Database> {
  if (cfg.databaseUrl) {
    const pool = new Pool({ connectionString: cfg.databaseUrl, max: 10 });
    // An idle client error (server restart) must not crash the process.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  const pglite = cfg.pgliteDir ? new PGlite(cfg.pgliteDir) : new PGlite();
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}

/** Wrap a PGlite instance the caller owns (tests share one per file). */
export async function kyselyForPglite(pglite: unknown): Promise<Db> {
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  return new Kysely<DB>({ dialect: new PGliteDialect(pglite as never) });
}
