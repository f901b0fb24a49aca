/**
 * Postgres helpers for tests: each test file gets its own database (unique name), dropped after.
 *
 *   const db = await createTestDatabase('control-plane-keys');
 *   // db.url = postgres://postgres@127.0.0.1:5432/llg_t_control_plane_keys_<random>
 *   afterAll(() => db.drop());
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export function pgAdminUrl(): string {
  return process.env.PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database (terminating its remaining connections). Idempotent. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: pgAdminUrl(), connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(name: string): Promise<TestDatabase> {
  const safe = name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 40);
  const dbName = `llg_t_${safe}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${dbName}"`));
  const url = new URL(pgAdminUrl());
  url.pathname = `/${dbName}`;
  let dropped = false;
  return {
    name: dbName,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
    },
  };
}
