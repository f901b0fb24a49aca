import { describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { createTestDatabase, pgAdminUrl } from './pg';

async function exists(name: string): Promise<boolean> {
  const c = new Client({ connectionString: pgAdminUrl() });
  await c.connect();
  try {
    return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe('createTestDatabase', () => {
  it('creates a unique, usable database and drops it (even with a connection still open)', async () => {
    const a = await createTestDatabase('Pg Helper');
    const b = await createTestDatabase('Pg Helper');
    try {
      expect(a.name).toMatch(/^llg_t_pg_helper_[0-9a-f]{10}$/);
      expect(a.name).not.toBe(b.name);
      const c = new Client({ connectionString: a.url });
      c.on('error', () => undefined);
      await c.connect();
      expect((await c.query('SELECT current_database() AS db')).rows[0].db).toBe(a.name);
      await a.drop(); // with c still connected
      expect(await exists(a.name)).toBe(false);
      await c.end().catch(() => undefined);
      await a.drop(); // idempotent
    } finally {
      await b.drop();
    }
    expect(await exists(b.name)).toBe(false);
  });
});
