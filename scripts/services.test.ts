import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

const script = join(__dirname, 'services');

describe('scripts/services', () => {
  it('is an executable bash script that passes bash -n', () => {
    expect(statSync(script).mode & 0o111).not.toBe(0);
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
  });

  it('is idempotent and quiet when Redis and Postgres already answer; llg_test exists', async () => {
    const first = spawnSync(script, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    expect(first.status, first.stderr).toBe(0);
    const second = spawnSync(script, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toBe('');
    expect(second.stderr).toBe('');
    const c = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/llg_test' });
    await c.connect();
    expect((await c.query('SELECT current_database() AS db')).rows[0].db).toBe('llg_test');
    await c.end();
  });
});
