/** An in-memory PDK double that records every call (test support; the host tests use the real protocol). */
import type { KongConsumer, KongPdk, MultiMap } from '../../core/pdk';

export interface FakeRequest {
  headers?: MultiMap;
  ip?: string;
  consumer?: KongConsumer;
  chain?: string;
}

export interface FakeKong {
  kong: KongPdk;
  calls: string[];
  ctx: Map<string, string>;
  exit?: { status: number; body?: string; headers?: Record<string, string | string[]> };
  upstream: Record<string, string | string[]>;
  logs: string[];
}

export function fakeKong(req: FakeRequest, ctx = new Map<string, string>()): FakeKong {
  const state: FakeKong = { kong: undefined as unknown as KongPdk, calls: [], ctx, upstream: {}, logs: [] };
  const rec = <T>(name: string, v: T) => {
    state.calls.push(name);
    return Promise.resolve(v);
  };
  const log = (level: string) => (...args: unknown[]) => {
    state.logs.push(`${level}: ${args.map(String).join(' ')}`);
    return rec(`log.${level}`, undefined);
  };
  state.kong = {
    request: {
      getHeaders: () => rec('request.getHeaders', req.headers ?? {}),
      getHeader: (n: string) => rec('request.getHeader', (req.headers?.[n] as string[] | undefined)?.[0]),
      getMethod: () => rec('request.getMethod', 'POST'),
      getPath: () => rec('request.getPath', '/v1/chat/completions'),
      getScheme: () => rec('request.getScheme', 'https'),
      getRawBody: () => rec('request.getRawBody', undefined),
      getQuery: () => rec('request.getQuery', {}),
    },
    client: {
      getIp: () => rec('client.getIp', req.ip ?? '203.0.113.7'),
      getForwardedIp: () => rec('client.getForwardedIp', req.ip ?? '203.0.113.7'),
      getConsumer: () => rec('client.getConsumer', req.consumer),
      tls: { getFullClientCertificateChain: () => rec('client.tls.getFullClientCertificateChain', req.chain) },
    },
    ctx: {
      shared: {
        get: (k: string) => rec('ctx.shared.get', ctx.get(k)),
        set: (k: string, v: string) => {
          ctx.set(k, v);
          return rec('ctx.shared.set', undefined);
        },
      },
    },
    response: {
      exit: (status: number, body?: string, headers?: Record<string, string | string[]>) => {
        state.exit = { status, body, headers };
        return rec('response.exit', undefined);
      },
      setHeader: () => rec('response.setHeader', undefined),
      setHeaders: () => rec('response.setHeaders', undefined),
      addHeader: () => rec('response.addHeader', undefined),
      getStatus: () => rec('response.getStatus', 200),
      getSource: () => rec('response.getSource', 'service' as const),
      getHeaders: () => rec('response.getHeaders', {}),
    },
    service: {
      request: {
        setHeader: (n: string, v: string) => {
          state.upstream[n] = v;
          return rec('service.request.setHeader', undefined);
        },
        setHeaders: (h: Record<string, string | string[]>) => {
          Object.assign(state.upstream, h);
          return rec('service.request.setHeaders', undefined);
        },
        clearHeader: (n: string) => {
          state.upstream[n] = '';
          return rec('service.request.clearHeader', undefined);
        },
        setRawBody: () => rec('service.request.setRawBody', undefined),
      },
      response: {
        getRawBody: () => rec('service.response.getRawBody', undefined),
        getStatus: () => rec('service.response.getStatus', 200),
        getHeaders: () => rec('service.response.getHeaders', {}),
      },
    },
    router: { getRoute: () => rec('router.getRoute', { id: 'r1' }) },
    log: { err: log('err'), warn: log('warn'), notice: log('notice'), info: log('info'), debug: log('debug'), serialize: () => rec('log.serialize', '{}') },
    nginx: {},
  };
  return state;
}
