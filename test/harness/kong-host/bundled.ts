/**
 * Kong's bundled plugins as far as the host needs them:
 *  - pre-function / post-function run short Lua snippets in a real Lua VM (wasmoon), with
 *    `kong.ctx.shared`, `kong.request.get_header`, `kong.response.exit`, `kong.log.*` bridged —
 *    the shipped kong.yml fails closed with a post-function sentinel;
 *  - key-auth authenticates consumers (so llm-auth's Kong-consumer method can be tested);
 *  - the rest of the bundled plugins a realistic kong.yml uses are accepted with their config
 *    unchecked and do nothing here (listed in ACCEPTED_BUNDLED).
 */
import { LuaFactory, type LuaEngine } from 'wasmoon';
import type { KongFieldEntry } from '../../../plugins/core/schema';
import { f, fieldList } from '../../../plugins/core/schema';
import type { RequestState } from './pdk';

export interface BundledPlugin {
  name: string;
  priority: number;
  phases: string[];
  configFields: KongFieldEntry[];
  /** Runs a phase; may set state.exit. */
  run?(phase: string, config: Record<string, unknown>, state: RequestState): void;
  /** Extra config validation (e.g. Lua compiles); returns an error message. */
  check?(config: Record<string, unknown>): string | undefined;
}

const LUA_PHASES = ['certificate', 'rewrite', 'access', 'header_filter', 'body_filter', 'log'] as const;

let engine: LuaEngine | undefined;
let engineStarting: Promise<LuaEngine> | undefined;

export async function luaEngine(): Promise<LuaEngine> {
  if (engine) return engine;
  engineStarting ??= new LuaFactory().createEngine({ injectObjects: true }).then((e) => (engine = e));
  return engineStarting;
}

type LuaFn = (...args: unknown[]) => unknown;
const compiled = new Map<string, { chunk: LuaFn; perRequest?: LuaFn }>();

function compile(code: string): { chunk: LuaFn; perRequest?: LuaFn } {
  const hit = compiled.get(code);
  if (hit) return hit;
  if (!engine) throw new Error('Lua engine not started');
  engine.global.set('__llg_code', code);
  const loaded = engine.doStringSync('local f, err = load(__llg_code, "=(serverless)") if not f then return err end return f') as unknown;
  if (typeof loaded !== 'function') throw new Error(`Lua compile error: ${String(loaded)}`);
  const entry = { chunk: loaded as LuaFn };
  compiled.set(code, entry);
  return entry;
}

/** The `kong` table a snippet sees, bound to one request. JS → Lua returns must be undefined, never null. */
function kongFor(state: RequestState): unknown {
  const shared = new Proxy(
    {},
    {
      get: (_t, key) => (typeof key === 'string' ? (state.shared.get(key) ?? undefined) : undefined),
      set: (_t, key, value) => {
        if (typeof key === 'string') state.shared.set(key, value);
        return true;
      },
    },
  );
  const log = (level: string) => (...args: unknown[]) => {
    state.log(level, state.plugin, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(''));
    return undefined;
  };
  return {
    ctx: { shared },
    request: {
      get_header: (name: string) => state.headers[String(name).toLowerCase()]?.[0] ?? undefined,
      get_path: () => state.path,
      get_method: () => state.method,
    },
    response: {
      exit: (status: number, body?: unknown, headers?: Record<string, unknown>) => {
        const hdrs: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(headers ?? {})) hdrs[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : [String(v)];
        let buf: Buffer;
        if (body !== undefined && body !== null && typeof body === 'object') {
          buf = Buffer.from(JSON.stringify(body), 'utf8');
          hdrs['content-type'] ??= ['application/json; charset=utf-8'];
        } else buf = Buffer.from(body === undefined || body === null ? '' : String(body), 'utf8');
        state.exit = { status: Number(status), body: buf, headers: hdrs };
        return undefined;
      },
      set_header: (name: string, value: unknown) => {
        state.responseHeaders.set(String(name).toLowerCase(), [String(value)]);
        return undefined;
      },
    },
    log: { err: log('err'), warn: log('warn'), notice: log('notice'), info: log('info'), debug: log('debug') },
  };
}

function runSnippets(codes: unknown, state: RequestState): void {
  if (!Array.isArray(codes)) return;
  for (const code of codes) {
    const entry = compile(String(code));
    engine!.global.set('kong', kongFor(state));
    if (entry.perRequest) {
      entry.perRequest();
    } else {
      // Kong: a chunk that returns a function is run once; the function runs per request.
      const ret = entry.chunk();
      if (typeof ret === 'function') {
        entry.perRequest = ret as LuaFn;
        entry.perRequest();
      }
    }
    if (state.exit) return;
  }
}

function serverless(name: string, priority: number): BundledPlugin {
  const fields: Record<string, ReturnType<typeof f.array>> = {};
  for (const p of LUA_PHASES) fields[p] = f.array(f.string({ required: true }), { default: [] });
  return {
    name,
    priority,
    phases: ['rewrite', 'access', 'log'],
    configFields: fieldList(fields),
    run(phase, config, state) {
      runSnippets(config[phase], state);
    },
    check(config) {
      for (const p of LUA_PHASES) {
        for (const code of (config[p] as unknown[]) ?? []) {
          try {
            compile(String(code));
          } catch (e) {
            return `Error parsing ${name} code: ${(e as Error).message}`;
          }
        }
      }
      return undefined;
    },
  };
}

const keyAuth: BundledPlugin = {
  name: 'key-auth',
  priority: 1250,
  phases: ['access'],
  configFields: fieldList({
    key_names: f.array(f.string(), { default: ['apikey'] }),
    hide_credentials: f.boolean({ default: false }),
    anonymous: f.string(),
    key_in_header: f.boolean({ default: true }),
    key_in_query: f.boolean({ default: true }),
    key_in_body: f.boolean({ default: false }),
    run_on_preflight: f.boolean({ default: true }),
    realm: f.string(),
  }),
  run(_phase, config, state) {
    const names = (config.key_names as string[]).map((n) => n.toLowerCase());
    let key: string | undefined;
    for (const n of names) key ??= state.headers[n]?.[0];
    if (!key && config.key_in_query) for (const n of names) key ??= new URLSearchParams(state.rawQuery).get(n) ?? undefined;
    const consumer = key ? consumersRef.current.find((c) => c.keyauth_keys.includes(key!)) : undefined;
    if (!consumer) {
      state.exit = {
        status: 401,
        body: Buffer.from(JSON.stringify({ message: key ? 'Unauthorized' : 'No API key found in request' })),
        headers: { 'content-type': ['application/json; charset=utf-8'], 'www-authenticate': ['Key'] },
      };
      return;
    }
    state.consumer = consumer;
    if (config.hide_credentials) for (const n of names) state.upstream.headers.delete(n);
  },
};

/** Consumers of the active config (key-auth looks keys up here). */
export const consumersRef: { current: Array<{ id: string; username?: string; custom_id?: string; tags: string[]; keyauth_keys: string[] }> } = { current: [] };

/** Bundled plugins accepted in config but not emulated (their config is not checked here). */
export const ACCEPTED_BUNDLED: Record<string, number> = {
  'correlation-id': 100001,
  prometheus: 13,
  'file-log': 9,
  'http-log': 12,
  'request-size-limiting': 951,
  'ip-restriction': 990,
  acl: 950,
  cors: 2000,
};

export const BUNDLED: BundledPlugin[] = [serverless('pre-function', 1_000_000), serverless('post-function', -1000), keyAuth];
