import { setTimeout as sleep } from 'node:timers/promises';

/** Waits for `work` to settle, up to `ms`; says whether it did. The timer never outlives the wait. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  const settled = work.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, sleep(ms, false, timeout)]);
  } finally {
    timeout.abort();
  }
}
