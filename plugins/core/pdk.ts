/**
 * The PDK subset the llm-* plugins use, typed the way Kong actually answers over the plugin
 * server protocol (kong-pdk's own typings miss some of it, e.g. get_raw_body's size cap).
 *
 * Every method is one RPC round trip (~0.1–0.15 ms) and the calls of one event are sequential:
 * handlers read what they need in as few calls as possible. A soft failure (nil, err on the Lua
 * side) arrives as `undefined`, never as an exception: check results.
 */

/** Header and query maps as Kong sends them: lower-case names → list of values. */
export type MultiMap = Record<string, string[] | string>;

export interface KongPdk {
  request: {
    getHeaders(max?: number): Promise<MultiMap | undefined>;
    getHeader(name: string): Promise<string | undefined>;
    getMethod(): Promise<string>;
    getPath(): Promise<string>;
    getScheme(): Promise<string>;
    /** Always pass an explicit cap (bytes): Kong ≥ 3.8 then reads a spooled body too. */
    getRawBody(maxBytes: number): Promise<Buffer | string | undefined>;
    getQuery(max?: number): Promise<MultiMap | undefined>;
  };
  client: {
    getIp(): Promise<string>;
    getForwardedIp(): Promise<string>;
    getConsumer(): Promise<KongConsumer | undefined>;
    tls: {
      getFullClientCertificateChain(): Promise<string | undefined>;
    };
  };
  ctx: {
    shared: {
      get(key: string): Promise<unknown>;
      set(key: string, value: string): Promise<void>;
    };
  };
  response: {
    /** Never awaited: Kong sends no reply. `return` right after. */
    exit(status: number, body?: string | Buffer, headers?: Record<string, string | string[]>): Promise<void>;
    setHeader(name: string, value: string): Promise<void>;
    setHeaders(headers: Record<string, string | string[]>): Promise<void>;
    addHeader(name: string, value: string): Promise<void>;
    getStatus(): Promise<number>;
    getSource(): Promise<'exit' | 'error' | 'service'>;
    getHeaders(max?: number): Promise<MultiMap | undefined>;
  };
  service: {
    request: {
      setHeader(name: string, value: string): Promise<void>;
      setHeaders(headers: Record<string, string | string[]>): Promise<void>;
      clearHeader(name: string): Promise<void>;
      setRawBody(body: string): Promise<void>;
    };
    response: {
      getRawBody(): Promise<Buffer | string | undefined>;
      getStatus(): Promise<number | undefined>;
      getHeaders(max?: number): Promise<MultiMap | undefined>;
    };
  };
  router: {
    getRoute(): Promise<{ id: string; name?: string; paths?: string[] } | undefined>;
  };
  log: {
    err(...args: unknown[]): Promise<void>;
    warn(...args: unknown[]): Promise<void>;
    notice(...args: unknown[]): Promise<void>;
    info(...args: unknown[]): Promise<void>;
    debug(...args: unknown[]): Promise<void>;
    serialize(): Promise<string>;
  };
  nginx: {
    getCtx?(key: string): Promise<unknown>;
  };
}

export interface KongConsumer {
  id: string;
  username?: string;
  custom_id?: string;
  tags?: string[];
}

/** First value of a header in Kong's multimap, or undefined. */
export function headerValue(headers: MultiMap | undefined, name: string): string | undefined {
  const v = headers?.[name.toLowerCase()];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : v;
}

/** A raw body from Kong (Buffer over msgpack bin, sometimes a string) as a Buffer. */
export function asBuffer(body: Buffer | string | Uint8Array | undefined | null): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
