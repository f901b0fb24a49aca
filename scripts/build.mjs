#!/usr/bin/env node
// Bundles each plugin (plugins/llm-*/handler.ts) and each test fixture plugin
// (test/fixtures/fixture-*/handler.ts) with esbuild into one flat CommonJS file:
//   dist/kong-plugins/<name>/<name>.cjs   dist/test-plugins/<name>/<name>.cjs
// `.cjs` loads in kong-js-pluginserver whatever the root package's "type" is, and each plugin
// directory holds only its own file (stray files break Kong's --dump-all-plugins parse).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);

function entries(dir, prefix) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((name) => name.startsWith(prefix) && existsSync(join(abs, name, 'handler.ts')))
    .map((name) => ({ name, entry: join(abs, name, 'handler.ts') }));
}

const targets = [
  ...entries('plugins', 'llm-').map((p) => ({ ...p, out: join(root, 'dist/kong-plugins', p.name) })),
  ...entries('test/fixtures', 'fixture-').map((p) => ({ ...p, out: join(root, 'dist/test-plugins', p.name) })),
];

rmSync(join(root, 'dist/kong-plugins'), { recursive: true, force: true });
rmSync(join(root, 'dist/test-plugins'), { recursive: true, force: true });

const started = Date.now();
await Promise.all(
  targets.map(async (t) => {
    mkdirSync(t.out, { recursive: true });
    await build({
      entryPoints: [t.entry],
      outfile: join(t.out, `${t.name}.cjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: false,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'warning',
      // Optional native/peer modules some libraries probe for; never needed at run time.
      external: ['pg-native'],
    });
  }),
);
console.log(`built ${targets.length} plugin bundles in ${Date.now() - started} ms: ${targets.map((t) => t.name).join(', ')}`);
