/**
 * The migration list, imported statically (no directory scan), so the same code runs under
 * tsx, vitest and a bundler. Append new migrations; never edit or reorder released ones.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001_init';
import * as m0002 from './0002_seed_tiers_prices';

export const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_seed_tiers_prices': m0002,
};
