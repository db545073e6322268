const FIRST_RECONNECT_MS = 500;
const LONGEST_RECONNECT_MS = 30_000;

export type Reconnects = {
  /** After a failure: `connect` again in 0.5 s, twice as long after each failure in a row, at most 30 s; once at a time. */
  schedule(): void;
  /** A connection held: the next failure waits the shortest time again. */
  succeeded(): void;
  /** No more attempts (closing). */
  cancel(): void;
};

/** How a dedicated PostgreSQL connection (LISTEN, advisory locks) comes back after it failed. */
export function reconnectsWithBackoff(connect: () => void): Reconnects {
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  return {
    schedule() {
      if (timer !== undefined) return;
      const ms = Math.min(FIRST_RECONNECT_MS * 2 ** failures, LONGEST_RECONNECT_MS);
      failures += 1;
      timer = setTimeout(() => {
        timer = undefined;
        connect();
      }, ms).unref();
    },
    succeeded() {
      failures = 0;
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
