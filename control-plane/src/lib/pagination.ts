/** Cursor pagination: `?limit=&cursor=` → `{ data, next_cursor }`; the cursor is opaque. */
import { Type } from '@sinclair/typebox';
import { badRequest } from '../errors';

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size (1-200).' })),
    cursor: Type.Optional(Type.String({ maxLength: 512, description: 'Opaque cursor from next_cursor.' })),
  },
  { additionalProperties: false },
);

export function encodeCursor(value: string | number): string {
  return Buffer.from(JSON.stringify([value]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | number | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 1 && (typeof v[0] === 'string' || typeof v[0] === 'number')) return v[0];
  } catch {
    /* fall through */
  }
  throw badRequest('query.cursor: invalid cursor');
}

/** Rows fetched with limit + 1: trims and computes next_cursor from the last row's key. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => string | number): { data: T[]; next_cursor: string | null } {
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  return { data, next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

export const pageSchema = <T extends import('@sinclair/typebox').TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
