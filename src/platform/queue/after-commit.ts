import type { JobOptions, JobQueue } from './types.ts';

/** Collects the jobs a transaction makes necessary. */
export type PendingJobs = { add(name: string, payload: unknown, options?: JobOptions): void };

/**
 * Runs `work` (typically `db.transaction().execute(...)`) and enqueues the jobs it added only once it
 * has resolved, i.e. committed; if it throws, nothing is enqueued. A crash between the commit and
 * the enqueue loses those jobs: where that matters, write them to an outbox table instead.
 *
 *     await enqueueAfterCommit(queue, (jobs) =>
 *       db.transaction().execute(async (trx) => { ...; jobs.add('media.thumbnail', { mediaId }); }));
 */
export async function enqueueAfterCommit<T>(queue: JobQueue, work: (jobs: PendingJobs) => Promise<T>): Promise<T> {
  const pending: Parameters<JobQueue['enqueue']>[] = [];
  const result = await work({ add: (...job) => pending.push(job) });
  for (const job of pending) await queue.enqueue(...job);
  return result;
}
