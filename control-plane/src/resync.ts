/**
 * `tsx control-plane/src/resync.ts`: rebuild the Redis key records from Postgres (all records
 * rewritten, records of unknown keys deleted, `*` published so gateway caches drop everything).
 */
import { loadConfig } from './config';
import { openDatabase } from './db';
import { RedisKeySync } from './keys/key-sync';
import { keyRepo } from './keys/keys.repository';

async function main(): Promise<void> {
  const cfg = loadConfig();
  if (!cfg.redisUrl) throw new Error('REDIS_URL is required for a resync');
  const database = await openDatabase(cfg);
  const log = { info: () => {}, warn: () => {} };
  const sync = new RedisKeySync(cfg.redisUrl, cfg.redisKeyPrefix, () => keyRepo.all(database.db), log);
  try {
    const r = await sync.resync();
    console.log(`resync done: ${r.written} key records written, ${r.removed} stale records removed`);
  } finally {
    await sync.close();
    await database.close();
  }
}

main().catch((err) => {
  console.error(`resync failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
