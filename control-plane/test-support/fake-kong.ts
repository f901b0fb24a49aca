/**
 * A small stand-in for Kong's DB-less Admin API (`POST /config`), for tests that run before or
 * without the Kong-protocol host: validates llm-* plugin configs with the plugins' schemas and
 * answers like Kong (201 applied, 304 same hash with check_hash, 400 with flattened field errors).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { flattenFieldErrors, validateKongConfig } from '../../plugins/core/schema';
import { collectPlugins } from '../src/config/render';
import type { SchemaMap } from '../src/config/plugin-schemas';

export interface FakeKong {
  url: string;
  configs: unknown[];
  current: Record<string, unknown> | undefined;
  /** Next answers forced (e.g. 500 or 'drop'). */
  failNext: Array<number | 'drop'>;
  close(): Promise<void>;
}

export async function startFakeKong(schemas: SchemaMap): Promise<FakeKong> {
  const state: FakeKong = { url: '', configs: [], current: undefined, failNext: [], close: async () => {} };
  let lastHash = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && u.pathname === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"configuration_hash":"' + lastHash + '"}');
        return;
      }
      if (req.method !== 'POST' || u.pathname !== '/config') {
        res.writeHead(404).end();
        return;
      }
      const forced = state.failNext.shift();
      if (forced === 'drop') {
        req.socket.destroy();
        return;
      }
      if (forced === 400) {
        // What Kong 3.x answers with flatten_errors=1 when it refuses a plugin config.
        res.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            code: 14,
            name: 'invalid declarative configuration',
            message: 'declarative config is invalid: {}',
            flattened_errors: [{ entity_type: 'plugin', entity_name: 'llm-auth', entity_id: '5f1c', errors: [{ type: 'field', field: 'config.tenants.1.timezone', message: 'expected one of: UTC, …' }] }],
          }),
        );
        return;
      }
      if (typeof forced === 'number') {
        res.writeHead(forced, { 'content-type': 'application/json' }).end('{"message":"forced"}');
        return;
      }
      let raw = Buffer.concat(chunks);
      let cfg: Record<string, unknown>;
      try {
        const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
        // Kong: `{"config": "<string>"}` is hashed (check_hash works); a top-level table is not.
        if (typeof parsed.config === 'string') {
          raw = Buffer.from(parsed.config);
          cfg = JSON.parse(parsed.config) as Record<string, unknown>;
        } else cfg = parsed;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"failed parsing declarative configuration"}');
        return;
      }
      const flattened: unknown[] = [];
      for (const { plugin } of collectPlugins(cfg)) {
        const schema = schemas.get(plugin.name as string);
        if (!schema) continue;
        const r = validateKongConfig(schema, plugin.config ?? {});
        if (!r.ok) {
          flattened.push({
            entity_type: 'plugin',
            entity_name: plugin.name,
            errors: flattenFieldErrors(r.errors).map((line) => {
              const i = line.indexOf(': ');
              return { type: 'field', field: `config.${line.slice(0, i)}`, message: line.slice(i + 2) };
            }),
          });
        }
      }
      if (flattened.length) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 14, name: 'invalid declarative configuration', message: 'declarative config is invalid', flattened_errors: flattened }));
        return;
      }
      const hash = createHash('md5').update(raw).digest('hex');
      if (u.searchParams.get('check_hash') === '1' && hash === lastHash) {
        res.writeHead(304).end();
        return;
      }
      lastHash = hash;
      state.configs.push(cfg);
      state.current = cfg;
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}
