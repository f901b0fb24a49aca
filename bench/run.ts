/**
 * `npm run bench`: runs every bench/*.ts (but this file and helpers) in its own process, one after
 * another so they do not compete for the two cores, then prints the collected BENCH lines.
 * `npm run bench -- limiter redact` runs only those.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = __dirname;
const only = new Set(process.argv.slice(2));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f) && !f.startsWith('_'))
  .filter((f) => only.size === 0 || only.has(f.replace(/\.ts$/, '')))
  .sort();

const results: string[] = [];
let failed = 0;
for (const f of files) {
  console.log(`\n━━ bench/${f} ━━`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f)], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: 10 * 60_000 });
  process.stdout.write(r.stdout ?? '');
  for (const line of (r.stdout ?? '').split('\n')) if (line.startsWith('BENCH ')) results.push(line);
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${f} failed (exit ${r.status})`);
  }
}
console.log('\n━━ results ━━');
for (const line of results) console.log(line);
process.exit(failed ? 1 : 0);
