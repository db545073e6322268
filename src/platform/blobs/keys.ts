import type { ByteRange } from './types.ts';

// Segments may not start with a dot: no `.` or `..`, and nothing that could reach the local store's
// own `.tmp` directory.
const SEGMENT = '[A-Za-z0-9_-][A-Za-z0-9._-]*';
const KEY = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);
const MAX_KEY_LENGTH = 1024; // S3's limit

/** Throws unless `key` is a well-formed, server-made key; it may become a path under the store's root. */
export function assertValidKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH || !KEY.test(key)) throw new TypeError(`Invalid blob key: ${JSON.stringify(key)}`);
}

/** A list prefix is empty, a key, or a key followed by `/`. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  assertValidKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** Throws unless `range` is well-formed; whether it fits the blob is checked against its size. */
export function assertValidRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Invalid byte range ${start}-${end}`);
  }
}
