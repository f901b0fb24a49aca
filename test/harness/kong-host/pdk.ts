/**
 * The PDK methods the host implements for external plugins, with Kong's phase checks and data
 * shapes. Documented list: see README.md beside this file. A method that is not here, or one
 * called in a phase where Kong refuses it, raises on Kong's side: the request becomes a 500 and
 * the plugin's pending call never completes (PdkFatal).
 */
import type { ConsumerDef, RouteDef, ServiceDef } from './config';

export class PdkFatal extends Error {
  override name = 'PdkFatal';
}

export type Phase = 'certificate' | 'rewrite' | 'access' | 'response' | 'log';

export interface ExitResponse {
  status: number;
  body: Buffer;
  headers: Record<string, string[]>;
}

export interface RequestState {
  id: number;
  phase: Phase;
  method: string;
  /** Path without the query string. */
  path: string;
  rawQuery: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  headers: Record<string, string[]>;
  body: Buffer;
  clientIp: string;
  clientPort: number;
  clientCertChain?: string;
  shared: Map<string, unknown>;
  route?: RouteDef;
  service?: ServiceDef;
  consumer?: ConsumerDef;
  /** Set by kong.response.exit / error. */
  exit?: ExitResponse;
  /** Headers plugins set on the client response (lower-case name → values; [] = cleared). */
  responseHeaders: Map<string, string[]>;
  /** The request as it will go upstream. */
  upstream: { headers: Map<string, string[]>; body?: Buffer; path?: string };
  upstreamResponse?: { status: number; headers: Record<string, string[]>; body?: Buffer };
  status?: number;
  source?: 'exit' | 'error' | 'service';
  startedAt: number;
  latencies: { kong: number; proxy: number; request: number };
  bodyBufferSize: number;
  log: (level: string, plugin: string | undefined, message: string) => void;
  plugin?: string;
}

type Fn = (s: RequestState, args: unknown[]) => unknown;
interface Method {
  phases: ReadonlySet<Phase>;
  fn: Fn;
}

const ALL: Phase[] = ['certificate', 'rewrite', 'access', 'response', 'log'];
const REQUEST: Phase[] = ['rewrite', 'access', 'response', 'log'];
const BEFORE_CONTENT: Phase[] = ['rewrite', 'access', 'response'];
const REWRITE_ACCESS: Phase[] = ['rewrite', 'access'];
const RESPONSE_WRITE: Phase[] = ['rewrite', 'access', 'response'];
const AFTER_HEADERS: Phase[] = ['response', 'log'];
const CLIENT: Phase[] = ['certificate', 'rewrite', 'access', 'response', 'log'];
const AUTHENTICATED: Phase[] = ['access', 'response', 'log'];

const methods = new Map<string, Method>();
function def(name: string, phases: Phase[], fn: Fn): void {
  methods.set(name, { phases: new Set(phases), fn });
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new PdkFatal(`${what} must be a string`);
  return v;
}

function headerList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v === undefined || v === null) return [];
  return [String(v)];
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v === undefined || v === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/** Kong's fix_mmap: single values become one-element arrays; empty → empty map. */
function multimap(headers: Record<string, string[]>, max = 100): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let n = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (n++ >= max) break;
    out[k] = [...v];
  }
  return out;
}

function parseQuery(raw: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(raw)) (out[k] ??= []).push(v);
  return out;
}

function exitResponse(status: unknown, body: unknown, headers: unknown): ExitResponse {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) throw new PdkFatal('code must be a number and between 100 and 599');
  const hdrs: Record<string, string[]> = {};
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) hdrs[k.toLowerCase()] = headerList(v);
  }
  let buf: Buffer;
  if (body !== undefined && body !== null && typeof body === 'object' && !Buffer.isBuffer(body) && !(body instanceof Uint8Array)) {
    buf = Buffer.from(JSON.stringify(body), 'utf8');
    hdrs['content-type'] ??= ['application/json; charset=utf-8'];
  } else {
    buf = toBuffer(body);
  }
  return { status, body: buf, headers: hdrs };
}

function serialize(s: RequestState): string {
  const reqHeaders: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(s.headers)) reqHeaders[k] = k === 'authorization' || k === 'proxy-authorization' ? 'REDACTED' : v.length === 1 ? (v[0] as string) : v;
  return JSON.stringify({
    request: { method: s.method, uri: s.path + (s.rawQuery ? `?${s.rawQuery}` : ''), url: `${s.scheme}://${s.host}:${s.port}${s.path}`, headers: reqHeaders, querystring: parseQuery(s.rawQuery), size: s.body.length },
    response: { status: s.status, headers: Object.fromEntries(s.responseHeaders), size: 0 },
    upstream_uri: s.upstream.path ?? s.path,
    route: s.route ? { id: s.route.id, name: s.route.name, paths: s.route.paths } : undefined,
    service: s.service ? { id: s.service.id, name: s.service.name, host: s.service.url.hostname } : undefined,
    consumer: s.consumer ? { id: s.consumer.id, username: s.consumer.username, custom_id: s.consumer.custom_id } : undefined,
    latencies: s.latencies,
    client_ip: s.clientIp,
    started_at: s.startedAt,
  });
}

// ── kong.request ────────────────────────────────────────────────────────────
def('kong.request.get_header', REQUEST, (s, [name]) => s.headers[str(name, 'header name').toLowerCase().replace(/_/g, '-')]?.[0]);
def('kong.request.get_headers', REQUEST, (s, [max]) => {
  if (max !== undefined && max !== null && (typeof max !== 'number' || max < 1 || max > 1000)) throw new PdkFatal('max_headers must be between 1 and 1000');
  return multimap(s.headers, (max as number | undefined) ?? 100);
});
def('kong.request.get_method', REQUEST, (s) => s.method);
def('kong.request.get_path', REQUEST, (s) => s.path);
def('kong.request.get_raw_path', REQUEST, (s) => s.path);
def('kong.request.get_path_with_query', REQUEST, (s) => s.path + (s.rawQuery ? `?${s.rawQuery}` : ''));
def('kong.request.get_raw_query', REQUEST, (s) => s.rawQuery);
def('kong.request.get_query', REQUEST, (s) => parseQuery(s.rawQuery));
def('kong.request.get_query_arg', REQUEST, (s, [name]) => new URLSearchParams(s.rawQuery).get(str(name, 'query argument name')) ?? undefined);
def('kong.request.get_scheme', REQUEST, (s) => s.scheme);
def('kong.request.get_host', REQUEST, (s) => s.host);
def('kong.request.get_port', REQUEST, (s) => s.port);
def('kong.request.get_http_version', REQUEST, () => 1.1);
def('kong.request.get_start_time', REQUEST, (s) => s.startedAt);
def('kong.request.get_raw_body', BEFORE_CONTENT, (s, [max]) => {
  // Kong ≥ 3.8: without a cap, a body beyond client_body_buffer_size is nil (spooled to a file);
  // with a cap, the spooled file is read when it fits. Either nil breaks Kong's msgpack
  // encoding of the reply (fix_raw(nil)) and the request becomes a 500.
  if (s.body.length <= s.bodyBufferSize) return s.body;
  if (typeof max === 'number' && s.body.length <= max) return s.body;
  throw new PdkFatal('request body did not fit into client body buffer (nil body cannot be encoded)');
});

// ── kong.client ─────────────────────────────────────────────────────────────
def('kong.client.get_ip', CLIENT, (s) => s.clientIp);
def('kong.client.get_forwarded_ip', CLIENT, (s) => s.clientIp);
def('kong.client.get_port', CLIENT, (s) => s.clientPort);
def('kong.client.get_forwarded_port', CLIENT, (s) => s.clientPort);
def('kong.client.get_protocol', CLIENT, (s) => s.scheme);
def('kong.client.get_consumer', AUTHENTICATED, (s) =>
  s.consumer ? { id: s.consumer.id, username: s.consumer.username, custom_id: s.consumer.custom_id, tags: s.consumer.tags, created_at: 0 } : undefined,
);
def('kong.client.get_credential', AUTHENTICATED, (s) => (s.consumer ? { id: `${s.consumer.id}-cred`, consumer: { id: s.consumer.id } } : undefined));
def('kong.client.tls.get_full_client_certificate_chain', ['rewrite', 'access', 'log'], (s) => s.clientCertChain);

// ── kong.ctx.shared (exposed to plugin servers as get/set) ──────────────────
def('kong.ctx.shared.get', ALL, (s, [key]) => s.shared.get(str(key, 'key')));
def('kong.ctx.shared.set', ALL, (s, [key, value]) => {
  s.shared.set(str(key, 'key'), value);
});

// ── kong.response ───────────────────────────────────────────────────────────
def('kong.response.exit', RESPONSE_WRITE, (s, [status, body, headers]) => {
  s.exit = exitResponse(status, body, headers);
});
def('kong.response.error', RESPONSE_WRITE, (s, [status, message, headers]) => {
  s.exit = exitResponse(status, { message: typeof message === 'string' ? message : defaultMessage(status as number) }, headers);
});
def('kong.response.set_header', RESPONSE_WRITE, (s, [name, value]) => {
  s.responseHeaders.set(str(name, 'header name').toLowerCase(), headerList(value));
});
def('kong.response.add_header', RESPONSE_WRITE, (s, [name, value]) => {
  const k = str(name, 'header name').toLowerCase();
  s.responseHeaders.set(k, [...(s.responseHeaders.get(k) ?? []), ...headerList(value)]);
});
def('kong.response.set_headers', RESPONSE_WRITE, (s, [headers]) => {
  if (typeof headers !== 'object' || headers === null) throw new PdkFatal('headers must be a table');
  for (const [k, v] of Object.entries(headers)) s.responseHeaders.set(k.toLowerCase(), headerList(v));
});
def('kong.response.clear_header', RESPONSE_WRITE, (s, [name]) => {
  s.responseHeaders.set(str(name, 'header name').toLowerCase(), []);
});
def('kong.response.get_status', AFTER_HEADERS, (s) => s.status ?? s.upstreamResponse?.status);
def('kong.response.get_header', AFTER_HEADERS, (s, [name]) => {
  const k = str(name, 'header name').toLowerCase();
  return s.responseHeaders.get(k)?.[0] ?? s.upstreamResponse?.headers[k]?.[0];
});
def('kong.response.get_headers', AFTER_HEADERS, (s, [max]) => {
  const merged: Record<string, string[]> = { ...(s.upstreamResponse?.headers ?? {}) };
  for (const [k, v] of s.responseHeaders) merged[k] = v;
  return multimap(merged, (max as number | undefined) ?? 100);
});
def('kong.response.get_source', AFTER_HEADERS, (s) => s.source ?? 'error');

// ── kong.service ────────────────────────────────────────────────────────────
/** nginx (ngx.req.set_header) removes a request header set to an empty value. */
function setUpstreamHeader(s: RequestState, name: string, value: unknown): void {
  const values = headerList(value);
  if (values.length === 0 || (values.length === 1 && values[0] === '')) s.upstream.headers.delete(name);
  else s.upstream.headers.set(name, values);
}
def('kong.service.request.set_header', REWRITE_ACCESS, (s, [name, value]) => {
  setUpstreamHeader(s, str(name, 'header name').toLowerCase(), value);
});
def('kong.service.request.add_header', REWRITE_ACCESS, (s, [name, value]) => {
  const k = str(name, 'header name').toLowerCase();
  s.upstream.headers.set(k, [...(s.upstream.headers.get(k) ?? []), ...headerList(value)]);
});
def('kong.service.request.set_headers', REWRITE_ACCESS, (s, [headers]) => {
  if (typeof headers !== 'object' || headers === null) throw new PdkFatal('headers must be a table');
  for (const [k, v] of Object.entries(headers)) setUpstreamHeader(s, k.toLowerCase(), v);
});
def('kong.service.request.clear_header', REWRITE_ACCESS, (s, [name]) => {
  s.upstream.headers.delete(str(name, 'header name').toLowerCase());
});
def('kong.service.request.set_raw_body', REWRITE_ACCESS, (s, [body]) => {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) throw new PdkFatal('body must be a string');
  s.upstream.body = toBuffer(body);
});
def('kong.service.request.set_path', REWRITE_ACCESS, (s, [path]) => {
  s.upstream.path = str(path, 'path');
});
def('kong.service.response.get_status', AFTER_HEADERS, (s) => s.upstreamResponse?.status);
def('kong.service.response.get_headers', AFTER_HEADERS, (s, [max]) => (s.upstreamResponse ? multimap(s.upstreamResponse.headers, (max as number | undefined) ?? 100) : undefined));
def('kong.service.response.get_header', AFTER_HEADERS, (s, [name]) => s.upstreamResponse?.headers[str(name, 'header name').toLowerCase()]?.[0]);
def('kong.service.response.get_raw_body', ['response'], (s) => s.upstreamResponse?.body ?? Buffer.alloc(0));

// ── kong.router, kong.node, kong.log ────────────────────────────────────────
def('kong.router.get_route', AUTHENTICATED, (s) =>
  s.route ? { id: s.route.id, name: s.route.name, paths: s.route.paths, methods: s.route.methods, strip_path: s.route.strip_path, service: s.service ? { id: s.service.id } : undefined } : undefined,
);
def('kong.router.get_service', AUTHENTICATED, (s) => (s.service ? { id: s.service.id, name: s.service.name, host: s.service.url.hostname, port: Number(s.service.url.port) || 80, protocol: s.service.url.protocol.replace(':', '') } : undefined));
def('kong.node.get_id', ALL, () => '00000000-0000-4000-8000-000000000001');
def('kong.node.get_hostname', ALL, () => 'kong-host');
def('kong.log.serialize', ['log'], (s) => serialize(s));
for (const level of ['alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug']) {
  def(`kong.log.${level}`, ALL, (s, args) => {
    s.log(level, s.plugin, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(''));
  });
}

function defaultMessage(status: number): string {
  return status === 503 ? 'Service unavailable' : status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not found' : 'An unexpected error occurred';
}

/** Names of the PDK methods the host implements (for its README and tests). */
export function implementedMethods(): string[] {
  return [...methods.keys()].sort();
}

/** Run one PDK call for a plugin; throws PdkFatal where Kong would raise. */
export function callPdk(state: RequestState, method: string, args: unknown): unknown {
  const m = methods.get(method);
  if (!m) throw new PdkFatal(`PDK method ${method} is not implemented by the test host`);
  if (!m.phases.has(state.phase)) throw new PdkFatal(`function cannot be called in ${state.phase} phase (${method})`);
  return m.fn(state, Array.isArray(args) ? args : args === undefined || args === null ? [] : [args]);
}

/** Which Step method Kong uses to return a PDK result. */
export function stepMethodFor(method: string): string {
  switch (method) {
    case 'kong.client.get_credential':
      return 'plugin.StepCredential';
    case 'kong.client.get_consumer':
      return 'plugin.StepConsumer';
    case 'kong.router.get_route':
      return 'plugin.StepRoute';
    case 'kong.router.get_service':
      return 'plugin.StepService';
    case 'kong.request.get_query':
    case 'kong.request.get_headers':
    case 'kong.response.get_headers':
    case 'kong.service.response.get_headers':
      return 'plugin.StepMultiMap';
    default:
      return 'plugin.Step';
  }
}
