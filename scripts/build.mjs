#!/usr/bin/env node
// Bundles each plugin (plugins/llm-*/handler.ts) and each test fixture plugin
// (test/fixtures/fixture-*/handler.ts) with esbuild into one flat CommonJS file:
//   dist/kong-plugins/<name>/<name>.cjs   dist/test-plugins/<name>/<name>.cjs
// `.cjs` loads in kong-js-pluginserver whatever the root package's "type" is, and each plugin
// directory holds only its own file (stray files break Kong's --dump-all-plugins parse).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);

function entries(dir, prefix) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((name) => name.startsWith(prefix) && existsSync(join(abs, name, 'handler.ts')))
    .map((name) => ({ name, entry: join(abs, name, 'handler.ts') }));
}

// `node scripts/build.mjs llm-auth fixture-exit` builds only those.
const only = new Set(process.argv.slice(2));
const targets = [
  ...entries('plugins', 'llm-').map((p) => ({ ...p, out: join(root, 'dist/kong-plugins', p.name) })),
  ...entries('test/fixtures', 'fixture-').map((p) => ({ ...p, out: join(root, 'dist/test-plugins', p.name) })),
].filter((t) => only.size === 0 || only.has(t.name));

const started = Date.now();
const failed = [];
await Promise.all(
  targets.map(async (t) => {
    // Write beside, then rename: a plugin server starting meanwhile never sees half a file,
    // and the directory never holds anything but the plugin's own file.
    const tmp = join(root, 'dist/.tmp', `${t.name}-${process.pid}.cjs`);
    mkdirSync(join(root, 'dist/.tmp'), { recursive: true });
    try {
      await build({
      entryPoints: [t.entry],
      outfile: tmp,
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
      // Replace the file in place (rename is atomic) and only then drop anything else in the
      // directory: a plugin server starting meanwhile (tests build while others run) always
      // finds a complete plugin file.
      mkdirSync(t.out, { recursive: true });
      renameSync(tmp, join(t.out, `${t.name}.cjs`));
      for (const f of readdirSync(t.out)) if (f !== `${t.name}.cjs`) rmSync(join(t.out, f), { recursive: true, force: true });
    } catch (e) {
      failed.push(t.name);
      rmSync(tmp, { force: true });
    }
  }),
);
console.log(`built ${targets.length - failed.length} plugin bundles in ${Date.now() - started} ms: ${targets.filter((t) => !failed.includes(t.name)).map((t) => t.name).join(', ')}`);
if (failed.length) {
  console.error(`build failed for: ${failed.join(', ')}`);
  process.exit(1);
}
