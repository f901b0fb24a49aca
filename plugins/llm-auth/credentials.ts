/**
 * Which credential a request carries (pure): an API key (Authorization Bearer or a configured
 * header), a bearer token (JWT or opaque), or none. Only methods enabled on the route count.
 */
import { headerValue, type MultiMap } from '../core/pdk';

export type HeaderCredential =
  | { kind: 'api_key'; key: string; header: string }
  | { kind: 'token'; token: string; header: string }
  | { kind: 'none' };

export interface CredentialOptions {
  apiKey: boolean;
  token: boolean;
  apiKeyHeader: string;
}

export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

/** Looks like one of our keys (the shape check proper happens before any lookup). */
export function looksLikeApiKey(value: string): boolean {
  return /^lg_[a-z]+_/.test(value);
}

export function isJwtShaped(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export function extractCredential(headers: MultiMap | undefined, o: CredentialOptions): HeaderCredential {
  const header = o.apiKeyHeader.toLowerCase();
  const bearer = bearerToken(headerValue(headers, 'authorization'));
  if (o.apiKey) {
    if (header === 'authorization') {
      if (bearer && looksLikeApiKey(bearer)) return { kind: 'api_key', key: bearer, header };
    } else {
      const v = headerValue(headers, header)?.trim();
      if (v) return { kind: 'api_key', key: v.replace(/^bearer\s+/i, ''), header };
    }
  }
  if (o.token && bearer && !looksLikeApiKey(bearer)) return { kind: 'token', token: bearer, header: 'authorization' };
  return { kind: 'none' };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client-supplied request id is kept only when it is short and plain (it ends up in logs). */
export function usableRequestId(value: string | undefined): string | undefined {
  return value && REQUEST_ID.test(value) ? value : undefined;
}
