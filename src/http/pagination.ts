import Type, { type TSchema } from 'typebox';
import { errors } from './errors.ts';

/** `?limit&cursor`, shared by every list route. */
export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export type Page<T> = { items: T[]; nextCursor: string | null };

/**
 * Keyset cursors: the sort key of the last item served, so a page starts strictly after it
 * whatever was inserted or deleted meanwhile. Opaque to clients.
 */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, length: number): string[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== length || !key.every((part) => typeof part === 'string')) {
    throw errors.invalidRequest('The cursor is not valid', [{ path: '/cursor', message: 'is not a valid cursor' }]);
  }
  return key;
}

/** Turns `limit + 1` fetched rows into a page, using the extra row only to know whether more exist. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  keyOf: (row: Row) => string[],
  serialize: (row: Row, index: number) => Item,
): Page<Item> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  return {
    items: pageRows.map(serialize),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}

/** Cursors over lists ordered by (time, id), newest first: follows and likes. */
export function encodeTimeCursor(at: Date, id: string): string {
  return encodeCursor([at.toISOString(), id]);
}

export function decodeTimeCursor(cursor: string): { at: Date; id: string } {
  const [iso, id] = decodeCursor(cursor, 2) as [string, string];
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) {
    throw errors.invalidRequest('The cursor is not valid', [{ path: '/cursor', message: 'is not a valid cursor' }]);
  }
  return { at, id };
}
