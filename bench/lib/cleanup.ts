/**
 * Clean-ups still owed (stop a server, drop a schema, delete a data dir). The normal path runs each
 * when its block ends; Ctrl-C runs whatever is still owed, newest first, before exiting.
 */
const owed: Array<() => Promise<void>> = [];

/** Runs `body`, then `cleanup` however `body` ends. `cleanup` may run twice, so it must be idempotent. */
export async function withCleanup<T>(cleanup: () => Promise<void>, body: () => Promise<T>): Promise<T> {
  owed.push(cleanup);
  try {
    return await body();
  } finally {
    owed.splice(owed.lastIndexOf(cleanup), 1);
    await cleanup();
  }
}

export function cleanUpOnSignals(): void {
  const onSignal = async (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: cleaning up`);
    for (const cleanup of owed.toReversed()) await cleanup().catch((error: unknown) => console.error(error));
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}
