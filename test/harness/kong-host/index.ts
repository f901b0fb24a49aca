/**
 * The Kong-protocol test host: a small gateway that does with external plugins what Kong 3.9
 * does, over the real plugin-server protocol. See README.md beside this file for what it
 * emulates and how it differs from Kong.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse, Agent as HttpAgent } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { DeclarativeConfig, HostLogLine, HostOptions, KongHost, PdkCall, RequestTrace } from './api';
import { ConfigError, loadConfig, matchRoute, parseDeclarativeText, pluginsForRoute, readDeclarative, type LoadedConfig, type PluginDef, type PluginSchemaInfo } from './config';
import { findPluginDirs, PluginServerProcess, RpcError, type PluginInfo } from './plugin-servers';
import { callPdk, PdkFatal, stepMethodFor, type Phase, type RequestState } from './pdk';
import { ACCEPTED_BUNDLED, BUNDLED, consumersRef, luaEngine, type BundledPlugin } from './bundled';
import type { KongField, KongFieldEntry } from '../../../plugins/core/schema';

export type { HostOptions, KongHost, HostLogLine, RequestTrace, DeclarativeConfig } from './api';

const KONG_VERSION = '3.9.1';
const ROOT = resolve(__dirname, '../../..');
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'host']);

interface ExternalPlugin {
  kind: 'external';
  name: string;
  info: PluginInfo;
  servers: PluginServerProcess[];
}

interface Runtime {
  config: LoadedConfig;
  seq: number;
}

interface ActivePlugin {
  def: PluginDef;
  name: string;
  priority: number;
  phases: string[];
  external?: ExternalPlugin;
  bundled?: BundledPlugin;
}

function vaultResolve(value: string, env: Record<string, string | undefined>): string | undefined {
  const m = /^\{vault:\/\/env\/([^}/]+)\}$/.exec(value);
  if (!m) return undefined;
  // Kong's env vault: dashes become underscores, the name is upper-cased.
  return env[(m[1] as string).replace(/-/g, '_').toUpperCase()];
}

/** Resolve `{vault://env/NAME}` in referenceable fields, recording originals in `$refs` as Kong does. */
function resolveReferences(fields: KongFieldEntry[], config: Record<string, unknown>, env: Record<string, string | undefined>, refs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const entry of fields) {
    const name = Object.keys(entry)[0] as string;
    const field = entry[name] as KongField;
    const v = out[name];
    if (field.referenceable && typeof v === 'string' && v.startsWith('{vault://')) {
      refs[name] = v;
      out[name] = vaultResolve(v, env) ?? null;
    } else if (field.type === 'record' && field.fields && v && typeof v === 'object' && !Array.isArray(v)) {
      const sub: Record<string, unknown> = {};
      out[name] = resolveReferences(field.fields, v as Record<string, unknown>, env, sub);
      if (Object.keys(sub).length) refs[name] = sub;
    } else if ((field.type === 'array' || field.type === 'set') && field.elements?.type === 'record' && Array.isArray(v)) {
      out[name] = v.map((item) => (item && typeof item === 'object' ? resolveReferences(field.elements!.fields ?? [], item as Record<string, unknown>, env, {}) : item));
    }
  }
  return out;
}

export async function startKongHost(opts: HostOptions): Promise<KongHost> {
  const logs: HostLogLine[] = [];
  const traces: RequestTrace[] = [];
  const prefix = mkdtempSync(join(tmpdir(), 'kong-host-'));
  const pluginDirs = findPluginDirs(opts.pluginDirs ?? [join(ROOT, 'dist/kong-plugins'), join(ROOT, 'dist/test-plugins')]);
  const env: Record<string, string | undefined> = opts.env ?? { ...process.env };
  // Kong starts plugin servers with a cleaned environment; pass what Node needs plus opts.env.
  const serverEnv: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...(opts.env ?? {}) };
  const serversPerPlugin = Math.max(1, opts.serversPerPlugin ?? 1);
  const bodyBufferSize = opts.clientBodyBufferSize ?? 8192;
  const externals = new Map<string, ExternalPlugin>();
  const instances = new Map<string, Promise<number>>();
  let requestSeq = 0;

  const log = (level: HostLogLine['level'] | string, plugin: string | undefined, message: string) => {
    const line: HostLogLine = { ts: Date.now(), level: level as HostLogLine['level'], plugin, message };
    logs.push(line);
    if (logs.length > 50_000) logs.splice(0, 10_000);
    if (opts.verbose) console.error(`[kong-host] ${level}${plugin ? ` [${plugin}]` : ''} ${message}`);
  };

  await luaEngine();

  async function ensureExternal(name: string): Promise<ExternalPlugin | undefined> {
    const existing = externals.get(name);
    if (existing) return existing;
    const dir = pluginDirs.get(name);
    if (!dir) return undefined;
    const servers: PluginServerProcess[] = [];
    for (let i = 0; i < serversPerPlugin; i++) {
      const s = new PluginServerProcess(name, dir, prefix, i, serverEnv, (line) => {
        // kong-js-pluginserver colours its log lines; keep the text only.
        const text = line.replace(/\x1B\[[0-9;]*[A-Za-z]/g, '').trim();
        if (text) log('notice', name, `[plugin server] ${text}`);
      });
      servers.push(s);
    }
    try {
      await Promise.all(servers.map((s) => s.start()));
    } catch (e) {
      // Never leave half a set of plugin servers running behind a failed start.
      await Promise.all(servers.map((s) => s.stop().catch(() => s.kill())));
      throw e;
    }
    const info = (await servers[0]!.pool.call('plugin.GetPluginInfo', name)) as PluginInfo;
    const ext: ExternalPlugin = { kind: 'external', name, info, servers };
    externals.set(name, ext);
    return ext;
  }

  async function schemasFor(source: DeclarativeConfig): Promise<Map<string, PluginSchemaInfo>> {
    const names = new Set<string>();
    const visit = (list: unknown) => {
      for (const p of Array.isArray(list) ? list : []) if (p && typeof (p as { name?: unknown }).name === 'string') names.add((p as { name: string }).name);
    };
    visit(source.plugins);
    for (const s of (source.services ?? []) as Array<Record<string, unknown>>) {
      visit(s.plugins);
      for (const r of Array.isArray(s.routes) ? (s.routes as Array<Record<string, unknown>>) : []) visit(r.plugins);
    }
    for (const r of (source.routes ?? []) as Array<Record<string, unknown>>) visit(r.plugins);
    const schemas = new Map<string, PluginSchemaInfo>();
    for (const b of BUNDLED) schemas.set(b.name, { name: b.name, configFields: b.configFields });
    for (const name of Object.keys(ACCEPTED_BUNDLED)) schemas.set(name, { name, configFields: 'unchecked' });
    for (const name of names) {
      if (schemas.has(name)) continue;
      const ext = await ensureExternal(name);
      if (ext) schemas.set(name, { name, configFields: ext.info.Schema.fields[0]!.config.fields });
    }
    return schemas;
  }

  async function buildRuntime(input: string | DeclarativeConfig, seq: number): Promise<Runtime> {
    const source = readDeclarative(input);
    const schemas = await schemasFor(source);
    const config = loadConfig(source, schemas, (p) => BUNDLED.find((b) => b.name === p.name)?.check?.(p.config));
    return { config, seq };
  }

  let runtime: Runtime;
  try {
    runtime = await buildRuntime(opts.config, 1);
  } catch (e) {
    await Promise.all([...externals.values()].flatMap((ext) => ext.servers.map((s) => s.stop().catch(() => s.kill()))));
    rmSync(prefix, { recursive: true, force: true });
    throw e;
  }
  consumersRef.current = runtime.config.consumers;

  function activePlugins(rt: Runtime, route: LoadedConfig['routes'][number] | undefined): ActivePlugin[] {
    const list: ActivePlugin[] = [];
    for (const def of pluginsForRoute(rt.config, route)) {
      const ext = externals.get(def.name);
      const bundled = BUNDLED.find((b) => b.name === def.name);
      if (ext) list.push({ def, name: def.name, priority: ext.info.Priority, phases: ext.info.Phases, external: ext });
      else if (bundled) list.push({ def, name: def.name, priority: bundled.priority, phases: bundled.phases, bundled });
      // accepted-but-not-emulated bundled plugins do nothing here
    }
    // Higher priority first; equal priorities by name (avoid ties in real configs).
    return list.sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
  }

  function instanceConfig(rt: Runtime, p: ActivePlugin): string {
    const fields = p.external!.info.Schema.fields[0]!.config.fields;
    const refs: Record<string, unknown> = {};
    const resolved = resolveReferences(fields, p.def.config, env, refs);
    return JSON.stringify({
      ...resolved,
      ...(Object.keys(refs).length ? { $refs: refs } : {}),
      route_id: p.def.routeId ?? null,
      service_id: p.def.serviceId ?? null,
      __key__: `plugins:${p.name}:${p.def.routeId ?? ''}:${p.def.serviceId ?? ''}::`,
      __seq__: rt.seq,
      __plugin_id: p.def.id,
    });
  }

  async function instanceId(rt: Runtime, p: ActivePlugin, server: PluginServerProcess): Promise<number> {
    const key = `${p.def.id}|${rt.seq}|${server.sockName}`;
    let pending = instances.get(key);
    if (!pending) {
      pending = server.pool.call('plugin.StartInstance', { Name: p.name, Config: instanceConfig(rt, p) }).then((r) => (r as { Id: number }).Id);
      instances.set(key, pending);
      pending.catch(() => instances.delete(key));
    }
    return pending;
  }

  /** Kong's bridge loop for one event of one external plugin. */
  async function runExternal(rt: Runtime, p: ActivePlugin, phase: Phase, state: RequestState, calls: PdkCall[]): Promise<void> {
    const ext = p.external!;
    // Every phase of a request goes to the same process, as in Kong (a node has one plugin
    // server per plugin; several processes here stand for several nodes sharing Redis).
    const server = ext.servers[state.id % ext.servers.length]!;
    for (let attempt = 0; attempt < 3; attempt++) {
      let iid: number;
      try {
        iid = await instanceId(rt, p, server);
      } catch (e) {
        if (e instanceof RpcError && /trying to connect|no data/.test(e.message)) {
          log('err', p.name, `plugin server unreachable: ${e.message}`);
          return; // Kong logs and the request goes on
        }
        // StartInstance failed on a live server (the constructor threw): Kong answers 500.
        state.exit = undefined;
        throw new PdkFatal(`could not start instance of ${p.name}: ${(e as Error).message}`);
      }
      try {
        let step = (await server.pool.call('plugin.HandleEvent', { InstanceId: iid, EventName: phase })) as { Data: unknown; EventId: number };
        const eventId = step.EventId;
        while (step.Data !== 'ret') {
          const call = step.Data as { Method: string; Args: unknown };
          calls.push({ plugin: p.name, phase, method: call.Method });
          state.plugin = p.name;
          const result = callPdk(state, call.Method, call.Args);
          step = (await server.pool.call(stepMethodFor(call.Method), { EventId: eventId, Data: result })) as { Data: unknown; EventId: number };
        }
        return;
      } catch (e) {
        if (e instanceof PdkFatal) throw e;
        const msg = (e as Error).message ?? String(e);
        if (/no plugin instance/i.test(msg)) {
          log('warn', p.name, msg);
          instances.delete(`${p.def.id}|${rt.seq}|${server.sockName}`);
          continue; // Kong resets the instance and handles the event again
        }
        log('err', p.name, msg);
        return; // the request goes on
      }
    }
  }

  async function runPhase(rt: Runtime, plugins: ActivePlugin[], phase: Phase, state: RequestState, calls: PdkCall[]): Promise<void> {
    for (const p of plugins) {
      if (!p.phases.includes(phase)) continue;
      state.phase = phase;
      if (p.external) await runExternal(rt, p, phase, state, calls);
      else if (p.bundled?.run) {
        state.plugin = p.name;
        try {
          p.bundled.run(phase, p.def.config, state);
        } catch (e) {
          // A Lua runtime error in a serverless function is a 500 in Kong.
          throw new PdkFatal(`${p.name}: ${(e as Error).message}`);
        }
      }
      if (phase !== 'log' && state.exit) return;
    }
  }

  function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
    return new Promise((resolveBody, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          reject(new Error('body too large'));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolveBody(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  function headerRecord(h: IncomingMessage['headers']): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v : [v];
    return out;
  }

  function sendBuffered(res: ServerResponse, state: RequestState, status: number, headers: Record<string, string[]>, body: Buffer, extra: Record<string, string>): void {
    const out: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
    for (const [k, v] of state.responseHeaders) {
      if (v.length === 0) delete out[k];
      else out[k] = v;
    }
    for (const [k, v] of Object.entries(extra)) out[k] = [v];
    out['content-length'] = [String(body.length)];
    state.status = status;
    res.writeHead(status, out);
    res.end(body);
  }

  const upstreamAgent = new HttpAgent({ keepAlive: true, maxSockets: 1024 });
  const upstreamTlsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1024 });

  async function handle(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): Promise<void> {
    const started = Date.now();
    const startedHr = process.hrtime.bigint();
    const rt = runtime; // in-flight requests keep the config they started with
    const id = ++requestSeq;
    const url = new URL(req.url ?? '/', 'http://host');
    const calls: PdkCall[] = [];
    let pluginNs = 0n;
    const body = await readBody(req).catch(() => undefined);
    if (body === undefined) {
      res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Request size limit exceeded' }));
      return;
    }
    const sock = req.socket as TLSSocket;
    let certChain: string | undefined;
    if (scheme === 'https' && typeof sock.getPeerCertificate === 'function') {
      const parts: string[] = [];
      let cert = sock.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        parts.push(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`);
        cert = cert.issuerCertificate;
      }
      certChain = parts.length ? parts.join('') : undefined;
    }
    const headers = headerRecord(req.headers);
    const state: RequestState = {
      id,
      phase: 'rewrite',
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      rawQuery: url.search.replace(/^\?/, ''),
      scheme,
      host: (headers.host?.[0] ?? 'localhost').split(':')[0] as string,
      port: (req.socket.localPort as number) ?? 0,
      headers,
      body,
      clientIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      clientPort: req.socket.remotePort ?? 0,
      clientCertChain: certChain,
      shared: new Map(),
      responseHeaders: new Map(),
      upstream: { headers: new Map(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k))) },
      startedAt: started,
      latencies: { kong: 0, proxy: 0, request: 0 },
      bodyBufferSize,
      log,
    };
    const kongRequestId = `${id.toString(16).padStart(8, '0')}${Math.random().toString(16).slice(2, 10)}`;
    const matched = matchRoute(rt.config.routes, state.method, state.path);
    state.route = matched?.route;
    state.service = matched?.route.service;
    const plugins = activePlugins(rt, matched?.route);

    const finish = () => {
      const total = Date.now() - started;
      state.latencies.request = total;
      state.latencies.kong = Number(pluginNs / 1_000_000n);
      traces.push({ id, method: state.method, path: state.path, route: state.route?.name, status: state.status ?? 0, source: state.source ?? 'error', pdkCalls: calls, pluginMs: Number(pluginNs) / 1e6, totalMs: Number(process.hrtime.bigint() - startedHr) / 1e6 });
      if (traces.length > 20_000) traces.splice(0, 5_000);
    };
    const runLog = async () => {
      try {
        await runPhase(rt, plugins, 'log', state, calls);
      } catch (e) {
        log('err', state.plugin, `log phase: ${(e as Error).message}`);
      }
      finish();
    };
    const timed = async (fn: () => Promise<void>) => {
      const t = process.hrtime.bigint();
      try {
        await fn();
      } finally {
        pluginNs += process.hrtime.bigint() - t;
      }
    };
    const internalError = (e: unknown) => {
      log('err', state.plugin, `request failed with 500: ${(e as Error).message}`);
      state.source = 'error';
      state.exit = undefined;
      sendBuffered(res, state, 500, { 'content-type': ['application/json; charset=utf-8'] }, Buffer.from(JSON.stringify({ message: 'An unexpected error occurred', request_id: kongRequestId })), { 'x-kong-request-id': kongRequestId });
    };
    const sendExit = () => {
      const exit = state.exit!;
      state.source = 'exit';
      sendBuffered(res, state, exit.status, exit.headers, exit.body, { server: `kong/${KONG_VERSION}`, 'x-kong-response-latency': String(Date.now() - started), 'x-kong-request-id': kongRequestId });
    };
    res.once('close', () => void runLog());

    if (!matched) {
      state.source = 'exit';
      sendBuffered(res, state, 404, { 'content-type': ['application/json; charset=utf-8'] }, Buffer.from(JSON.stringify({ message: 'no Route matched with those values', request_id: kongRequestId })), {});
      return;
    }

    try {
      await timed(async () => {
        // rewrite runs for global plugins only (no route is known yet in Kong)
        await runPhase(rt, plugins.filter((p) => !p.def.routeId && !p.def.serviceId), 'rewrite', state, calls);
        if (!state.exit) await runPhase(rt, plugins, 'access', state, calls);
      });
    } catch (e) {
      internalError(e);
      return;
    }
    if (state.exit) {
      sendExit();
      return;
    }
    if (!state.service) {
      internalError(new Error('route has no service'));
      return;
    }

    // Proxy to the upstream.
    const svc = state.service;
    const stripped = matched.route.strip_path ? state.path.slice(matched.matched.length) : state.path;
    const basePath = svc.url.pathname === '/' ? '' : svc.url.pathname.replace(/\/$/, '');
    const upstreamPath = state.upstream.path ?? (basePath + (stripped.startsWith('/') || stripped === '' ? stripped : `/${stripped}`) || '/');
    const upBody = state.upstream.body ?? state.body;
    const upHeaders: Record<string, string[]> = {};
    for (const [k, v] of state.upstream.headers) upHeaders[k] = v;
    upHeaders['host'] = [matched.route.preserve_host ? (headers.host?.[0] ?? svc.url.host) : svc.url.host];
    upHeaders['x-forwarded-for'] = [state.clientIp];
    upHeaders['x-forwarded-proto'] = [scheme];
    upHeaders['x-forwarded-host'] = [state.host];
    upHeaders['x-forwarded-path'] = [state.path];
    upHeaders['x-real-ip'] = [state.clientIp];
    upHeaders['content-length'] = [String(upBody.length)];
    const upHeadersFlat: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upHeaders)) upHeadersFlat[k] = v.length === 1 ? (v[0] as string) : v;
    const needsBuffer = plugins.some((p) => p.phases.includes('response'));
    const proxyStarted = Date.now();
    const isTls = svc.url.protocol === 'https:';
    const upReq = (isTls ? httpsRequest : httpRequest)({
      protocol: svc.url.protocol,
      hostname: svc.url.hostname,
      port: svc.url.port || (isTls ? 443 : 80),
      method: state.method,
      path: upstreamPath + (state.rawQuery ? `?${state.rawQuery}` : ''),
      headers: upHeadersFlat,
      agent: isTls ? upstreamTlsAgent : upstreamAgent,
    });
    let connectTimer: NodeJS.Timeout | undefined = setTimeout(() => upReq.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), svc.connect_timeout);
    upReq.on('socket', (s) => {
      if (!s.connecting) {
        clearTimeout(connectTimer);
        connectTimer = undefined;
      } else s.once('connect', () => clearTimeout(connectTimer));
    });
    upReq.setTimeout(svc.read_timeout, () => upReq.destroy(Object.assign(new Error('read timeout'), { code: 'ETIMEDOUT' })));

    let responded = false;
    upReq.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (responded) {
        res.destroy();
        return;
      }
      responded = true;
      state.source = 'error';
      const timeout = e.code === 'ETIMEDOUT';
      const status = timeout ? 504 : 502;
      log('err', undefined, `upstream ${timeout ? 'timed out' : 'error'}: ${e.code ?? e.message}`);
      sendBuffered(res, state, status, { 'content-type': ['application/json; charset=utf-8'] }, Buffer.from(JSON.stringify({ message: timeout ? 'The upstream server is timing out' : 'An invalid response was received from the upstream server', request_id: kongRequestId })), { server: `kong/${KONG_VERSION}`, 'x-kong-request-id': kongRequestId });
    });
    upReq.on('response', (upRes) => {
      responded = true;
      const upStatus = upRes.statusCode ?? 502;
      const upResHeaders = headerRecord(upRes.headers);
      state.latencies.proxy = Date.now() - proxyStarted;
      const kongHeaders = { via: `1.1 kong/${KONG_VERSION}`, 'x-kong-upstream-latency': String(state.latencies.proxy), 'x-kong-proxy-latency': String(Number(pluginNs / 1_000_000n)), 'x-kong-request-id': kongRequestId };
      if (!needsBuffer) {
        state.source = 'service';
        state.status = upStatus;
        state.upstreamResponse = { status: upStatus, headers: upResHeaders };
        const out: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(upResHeaders)) if (!HOP_BY_HOP.has(k) || k === 'content-length' || k === 'transfer-encoding') out[k] = v;
        for (const [k, v] of state.responseHeaders) {
          if (v.length === 0) delete out[k];
          else out[k] = v;
        }
        for (const [k, v] of Object.entries(kongHeaders)) out[k] = [v];
        delete out['transfer-encoding'];
        res.writeHead(upStatus, out);
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
        return;
      }
      // A response phase makes Kong buffer the whole upstream body first.
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('error', () => res.destroy());
      upRes.on('end', () => {
        void (async () => {
          state.upstreamResponse = { status: upStatus, headers: upResHeaders, body: Buffer.concat(chunks) };
          state.source = 'service';
          state.status = upStatus;
          try {
            await timed(() => runPhase(rt, plugins, 'response', state, calls));
          } catch (e) {
            internalError(e);
            return;
          }
          if (state.exit) {
            sendExit();
            return;
          }
          sendBuffered(res, state, upStatus, upResHeaders, state.upstreamResponse.body!, kongHeaders);
        })();
      });
    });
    upReq.end(upBody);
  }

  const onRequest = (scheme: 'http' | 'https') => (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, scheme).catch((e) => {
      log('crit', undefined, `host error: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'An unexpected error occurred' }));
      else res.destroy();
    });
  };

  const proxy = createHttpServer({ keepAliveTimeout: 60_000 }, onRequest('http'));
  proxy.maxHeadersCount = 200;
  await new Promise<void>((r) => proxy.listen(opts.proxyPort ?? 0, '127.0.0.1', r));
  let tlsServer: ReturnType<typeof createHttpsServer> | undefined;
  if (opts.tls) {
    tlsServer = createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: opts.tls.requestClientCert ?? false, rejectUnauthorized: false }, onRequest('https'));
    await new Promise<void>((r) => tlsServer!.listen(0, '127.0.0.1', r));
  }

  // ── Admin API (DB-less) ────────────────────────────────────────────────────
  async function applyConfig(input: string | DeclarativeConfig): Promise<void> {
    const next = await buildRuntime(input, runtime.seq + 1);
    runtime = next; // atomic swap: in-flight requests finish on the old runtime
    consumersRef.current = next.config.consumers;
  }

  const admin = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: unknown) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    try {
      if (req.method === 'GET' && url.pathname === '/status') {
        send(200, { database: { reachable: true }, server: { connections_active: 1 }, configuration_hash: runtime.config.hash });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/') {
        send(200, { version: KONG_VERSION, configuration: { database: 'off' }, plugins: { available_on_server: Object.fromEntries([...pluginDirs.keys()].map((n) => [n, { version: '0.1.0' }])) } });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/config') {
        send(200, { config: toYaml(runtime.config.source) });
        return;
      }
      if (req.method === 'POST' && url.pathname === '/config') {
        const raw = (await readBody(req, 50 * 1024 * 1024)).toString('utf8');
        let input: string | DeclarativeConfig = raw;
        const ct = String(req.headers['content-type'] ?? '');
        if (ct.includes('json')) {
          const parsed = JSON.parse(raw) as Record<string, unknown>;
          input = typeof parsed.config === 'string' ? parsed.config : ((parsed.config as DeclarativeConfig) ?? (parsed as DeclarativeConfig));
        }
        const source = typeof input === 'string' ? parseDeclarativeText(input) : input;
        const hash = (await import('node:crypto')).createHash('md5').update(JSON.stringify(source)).digest('hex');
        if (url.searchParams.get('check_hash') === '1' && hash === runtime.config.hash) {
          res.writeHead(304).end();
          return;
        }
        await applyConfig(source);
        send(201, runtime.config.source);
        return;
      }
      send(404, { message: 'Not found' });
    } catch (e) {
      if (e instanceof ConfigError) {
        send(400, { code: 14, name: 'invalid declarative configuration', message: e.message, fields: e.fields, ...(url.searchParams.get('flatten_errors') === '1' ? { flattened_errors: e.flattened } : {}) });
      } else if (e instanceof SyntaxError || (e as Error).name === 'YAMLParseError') {
        send(400, { code: 14, name: 'invalid declarative configuration', message: 'failed parsing declarative configuration' });
      } else {
        log('err', undefined, `admin error: ${(e as Error).message}`);
        send(500, { message: 'An unexpected error occurred' });
      }
    }
  });
  await new Promise<void>((r) => admin.listen(opts.adminPort ?? 0, '127.0.0.1', r));

  const proxyPort = (proxy.address() as AddressInfo).port;
  const adminPort = (admin.address() as AddressInfo).port;

  return {
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    tlsUrl: tlsServer ? `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}` : undefined,
    logs,
    traces,
    reload: applyConfig,
    async killPluginServer(name: string) {
      const ext = externals.get(name);
      for (const s of ext?.servers ?? []) s.kill();
      await new Promise((r) => setTimeout(r, 50));
    },
    async forgetInstances(name: string) {
      const ext = externals.get(name);
      if (!ext) return;
      const closing: Array<Promise<unknown>> = [];
      for (const [key, pending] of instances) {
        const server = ext.servers.find((s) => key.endsWith(`|${s.sockName}`));
        if (!server) continue;
        closing.push(pending.then((iid) => server.pool.call('plugin.CloseInstance', iid)).catch(() => undefined));
      }
      await Promise.all(closing);
    },
    serverOutput(name: string) {
      return externals.get(name)?.servers.flatMap((s) => s.output) ?? [];
    },
    async stop() {
      await Promise.all([proxy, admin, tlsServer].filter(Boolean).map((s) => new Promise((r) => { s!.close(() => r(undefined)); s!.closeAllConnections?.(); })));
      await Promise.all([...externals.values()].flatMap((e) => e.servers.map((s) => s.stop())));
      upstreamAgent.destroy();
      upstreamTlsAgent.destroy();
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
