/**
 * The bootstrap admin token: taken from ADMIN_TOKEN, or generated once and written to a file
 * with mode 0600 (created exclusively, never overwritten). The token itself is never logged;
 * only its display prefix and the file path are. A bootstrap token revoked through the API stays
 * revoked across restarts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from '../db';
import { ADMIN_TOKEN_PREFIX, generateAdminToken, hashAdminToken, tokenDisplayPrefix } from './tokens';

export const BOOTSTRAP_TOKEN_ID = 'bootstrap';

export interface BootstrapResult {
  source: 'env' | 'file-created' | 'file-existing' | 'given';
  prefix: string;
  file?: string;
}

async function upsertBootstrap(db: Db, token: string): Promise<void> {
  const hash = hashAdminToken(token);
  const prefix = tokenDisplayPrefix(token);
  await db
    .insertInto('admin_tokens')
    .values({ id: BOOTSTRAP_TOKEN_ID, name: 'bootstrap', role: 'admin', tenant_id: null, prefix, hash })
    .onConflict((oc) => oc.column('id').doUpdateSet({ hash, prefix }))
    .execute();
}

export async function ensureBootstrapToken(db: Db, opts: { envToken?: string; file: string; given?: string }): Promise<BootstrapResult> {
  if (opts.given) {
    await upsertBootstrap(db, opts.given);
    return { source: 'given', prefix: tokenDisplayPrefix(opts.given) };
  }
  if (opts.envToken) {
    await upsertBootstrap(db, opts.envToken);
    return { source: 'env', prefix: tokenDisplayPrefix(opts.envToken) };
  }
  let existing: string | undefined;
  try {
    existing = readFileSync(opts.file, 'utf8').trim();
  } catch {
    existing = undefined;
  }
  if (existing && existing.startsWith(ADMIN_TOKEN_PREFIX)) {
    await upsertBootstrap(db, existing);
    return { source: 'file-existing', prefix: tokenDisplayPrefix(existing), file: opts.file };
  }
  const { token } = generateAdminToken();
  mkdirSync(dirname(opts.file), { recursive: true, mode: 0o700 });
  // 'wx': fail rather than overwrite a file someone else just created.
  writeFileSync(opts.file, token + '\n', { mode: 0o600, flag: 'wx' });
  await upsertBootstrap(db, token);
  return { source: 'file-created', prefix: tokenDisplayPrefix(token), file: opts.file };
}
