import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * Cryptographic randomness for ULIDs, drawn from a pooled buffer: the library's default asks the
 * system for one byte per character, sixteen calls an id.
 */
const pool = new Uint8Array(4096);
let next = pool.length;
function randomFraction(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++]! / 256;
}

const ulid = monotonicFactory(randomFraction);

/**
 * A new row id: a ULID, so ids sort by creation time (monotonic within a millisecond in this
 * process) and keyset pagination can page by id alone.
 */
export function newId(now: number = Date.now()): string {
  return ulid(now);
}
