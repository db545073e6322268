import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

/**
 * A new row id: a ULID, so ids sort by creation time (monotonic within a millisecond in this
 * process) and keyset pagination can page by id alone.
 */
export function newId(now: number = Date.now()): string {
  return ulid(now);
}
