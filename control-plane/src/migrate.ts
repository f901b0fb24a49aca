/**
 * Migrations (Kysely's Migrator over the static list in migrations/index.ts).
 * `npm run migrate` runs them against DATABASE_URL (or PGLITE_DIR) and exits.
 */
import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { MIGRATIONS } from '../../migrations';

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const res = await migrator.migrateToLatest();
  if (res.error) {
    const failed = res.results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${res.error instanceof Error ? res.error.message : String(res.error)}`);
  }
  return res;
}

async function main(): Promise<void> {
  const { loadConfig } = await import('./config');
  const { openDatabase } = await import('./db');
  const cfg = loadConfig();
  const database = await openDatabase(cfg);
  try {
    const res = await migrateToLatest(database.db);
    const ran = (res.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    console.log(ran.length ? `applied: ${ran.join(', ')}` : 'database already up to date');
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
