/**
 * What can be checked of the real-Kong packaging on a machine without Docker or Kong:
 * kong/kong.yml loads as Kong would (structure, references, every plugin config against the
 * schema its plugin server reports), docker-compose.yml has the services and health checks the
 * stack needs, and kong.conf's plugin-server entries agree with the built plugins — shown by
 * running each `_query_cmd` as written, with only the image's install paths mapped to this
 * checkout.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startKongHost } from '../harness/kong-host';

const ROOT = resolve(__dirname, '../..');
const PLUGINS = ['llm-auth', 'llm-input-guard', 'llm-token-limit', 'llm-cost-quota', 'llm-output-redact'];
const PRIORITIES: Record<string, number> = { 'llm-auth': 1010, 'llm-input-guard': 1000, 'llm-token-limit': 912, 'llm-cost-quota': 906, 'llm-output-redact': 802 };

function kongConf(): Map<string, string> {
  const conf = new Map<string, string>();
  for (const raw of readFileSync(join(ROOT, 'kong/kong.conf'), 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    conf.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return conf;
}

/** The image's install paths → this checkout; everything else of the command runs as written. */
function mapImagePaths(cmd: string): string[] {
  return cmd
    .replace('/usr/local/bin/node', process.execPath)
    .replace('/usr/local/bin/kong-js-pluginserver', join(ROOT, 'node_modules/kong-pdk/bin/kong-js-pluginserver'))
    .replace(/\/usr\/local\/kong\/js-plugins/g, join(ROOT, 'dist/kong-plugins'))
    .split(/\s+/);
}

describe('kong.conf plugin-server entries', () => {
  const conf = kongConf();
  const built = existsSync(join(ROOT, 'dist/kong-plugins')) ? readdirSync(join(ROOT, 'dist/kong-plugins')).sort() : [];

  it('name every plugin once, in plugins and pluginserver_names, and match the built files', () => {
    expect(conf.get('plugins')!.split(',').map((s) => s.trim())).toEqual(['bundled', ...PLUGINS]);
    expect(conf.get('pluginserver_names')!.split(',').map((s) => s.trim())).toEqual(PLUGINS);
    expect(built).toEqual([...PLUGINS].sort());
    for (const name of PLUGINS) expect(readdirSync(join(ROOT, 'dist/kong-plugins', name))).toEqual([`${name}.cjs`]);
  });

  it.each(PLUGINS)('%s: socket, start and query commands agree (hyphens → underscores in the keys)', (name) => {
    const key = `pluginserver_${name.replace(/-/g, '_')}`;
    const socket = conf.get(`${key}_socket`)!;
    const start = conf.get(`${key}_start_cmd`)!;
    const query = conf.get(`${key}_query_cmd`)!;
    expect(socket).toBe(`/usr/local/kong/${name}.sock`);
    expect(start).toContain(`--plugins-directory /usr/local/kong/js-plugins/${name} `);
    expect(start).toContain('--kong-prefix /usr/local/kong');
    expect(start).toContain(`--sock-name ${name}.sock`);
    expect(query).toMatch(new RegExp(`--plugins-directory /usr/local/kong/js-plugins/${name} --dump-all-plugins$`));

    const [bin, ...args] = mapImagePaths(query);
    const out = execFileSync(bin!, args, { encoding: 'utf8', env: { PATH: process.env.PATH } });
    const dump = JSON.parse(out) as Array<{ Name: string; Priority: number; Phases: string[] }>; // pure JSON or this throws
    expect(dump).toHaveLength(1);
    expect(dump[0]!.Name).toBe(name);
    expect(dump[0]!.Priority).toBe(PRIORITIES[name]);
  });

  it('keeps request-body hygiene and mTLS settings in nginx', () => {
    expect(conf.get('nginx_http_client_max_body_size')).toMatch(/^\d+[km]$/);
    expect(conf.get('nginx_http_client_body_buffer_size')).toMatch(/^\d+[km]$/);
    expect(conf.get('nginx_http_client_body_timeout')).toMatch(/^\d+s$/);
    expect(conf.get('nginx_http_client_header_timeout')).toMatch(/^\d+s$/);
    expect(conf.get('nginx_proxy_ssl_verify_client')).toBe('optional_no_ca');
    expect(conf.get('ssl_cipher_suite')).toBe('modern');
    expect(conf.get('database')).toBe('off');
  });
});

describe('kong/Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'kong/Dockerfile'), 'utf8');
  it('pins Kong OSS 3.9, copies Node 20 from the official image and the plugins where kong.conf expects them', () => {
    expect(dockerfile).toMatch(/^FROM kong:3\.9\.\d+/m);
    expect(dockerfile).toMatch(/^FROM node:20[\w.-]* AS node$/m);
    expect(dockerfile).toContain('COPY --from=node /usr/local/bin/node /usr/local/bin/node');
    expect(dockerfile).toContain('COPY --from=build /src/dist/kong-plugins/ /usr/local/kong/js-plugins/');
    expect(dockerfile).toContain('COPY kong/kong.conf /etc/kong/kong.conf');
    expect(dockerfile).toMatch(/typescript@5\./);
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Record<string, unknown>> };
  it('has the five services, each with a health check, and dependencies on healthy services only', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['control-plane', 'kong', 'mock-llm', 'postgres', 'redis']);
    for (const [name, svc] of Object.entries(compose.services)) {
      const hc = svc.healthcheck as { test?: unknown } | undefined;
      expect(hc?.test, `${name} needs a healthcheck`).toBeTruthy();
      for (const [dep, cond] of Object.entries((svc.depends_on ?? {}) as Record<string, { condition: string }>)) {
        expect(compose.services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(cond.condition).toBe('service_healthy');
      }
    }
    expect((compose.services.kong!.build as { dockerfile: string }).dockerfile).toBe('kong/Dockerfile');
    expect((compose.services.kong!.environment as Record<string, string>).KONG_DATABASE).toBe('off');
    expect((compose.services['control-plane']!.environment as Record<string, string>).KONG_ADMIN_URL).toBe('http://kong:8001');
  });
});

describe('kong/kong.yml', () => {
  it('loads in the Kong-protocol host: structure, references and every plugin config against its schema', async () => {
    const host = await startKongHost({ config: join(ROOT, 'kong/kong.yml') });
    await host.stop();
  });
});
