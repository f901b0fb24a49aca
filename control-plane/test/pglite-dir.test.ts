/** PGLITE_DIR: the embedded database survives a restart (migrations are not re-applied). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { createControlPlane } from '../src/server';

describe('PGlite in a directory', () => {
  it('keeps tenants across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-pglite-'));
    const env = { PGLITE_DIR: join(dir, 'db'), PORT: '0', ADMIN_TOKEN: 'p'.repeat(40), ADMIN_TOKEN_FILE: join(dir, 'tok') };
    const auth = { authorization: `Bearer ${'p'.repeat(40)}`, 'content-type': 'application/json' };
    const first = await createControlPlane(loadConfig(env), { logger: false });
    try {
      expect(first.database.kind).toBe('pglite');
      const r = await fetch(`${first.url}/v1/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'kept', name: 'Kept', tier: 'strict' }) });
      expect(r.status).toBe(201);
    } finally {
      await first.stop();
    }
    const second = await createControlPlane(loadConfig(env), { logger: false });
    try {
      const r = await fetch(`${second.url}/v1/tenants/kept`, { headers: auth });
      expect(r.status).toBe(200);
      const tiers = (await (await fetch(`${second.url}/v1/tiers`, { headers: auth })).json()) as { data: unknown[] };
      expect(tiers.data).toHaveLength(3); // the seed ran once
    } finally {
      await second.stop();
    }
  }, 240_000);
});
