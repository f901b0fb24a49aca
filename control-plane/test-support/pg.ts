/** A fresh Postgres database per test file (the shared harness helper, test/harness/pg.ts). */
export { createTestDatabase } from '../../test/harness/pg';
