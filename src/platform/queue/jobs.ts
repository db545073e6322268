import type { FastifyBaseLogger } from 'fastify';
import { schedulePeriodicJob } from './periodic.ts';
import type { JobHandler, JobQueue } from './types.ts';

/** One background job a module runs, declared once: what `runJobs` needs to run and schedule it. */
export type JobDefinition<P> = {
  readonly name: string;
  readonly handler: JobHandler<P>;
  /** How many run at once in each process (default 1). */
  readonly concurrency?: number;
  /** Set for clean-ups: the job is enqueued once every this many milliseconds, with an empty payload. */
  readonly everyMs?: number;
};

/**
 * A job of any payload, as a module's list holds them. `never` because a list mixes payload types;
 * each handler still gets what its own enqueuers send (see `defineJob`).
 */
export type AnyJobDefinition = JobDefinition<never>;

/** Types a job's handler by its payload, and lets it join a module's list. */
export function defineJob<P>(definition: JobDefinition<P>): AnyJobDefinition {
  return definition;
}

/** Starts handling every job in `jobs` and the schedules of the periodic ones; `stop` ends the schedules. */
export function runJobs(queue: JobQueue, jobs: readonly AnyJobDefinition[], logger: FastifyBaseLogger): { stop(): void } {
  for (const job of jobs) queue.process(job.name, job.handler, { concurrency: job.concurrency ?? 1 });
  const schedules = jobs.flatMap((job) => (job.everyMs === undefined ? [] : [schedulePeriodicJob(queue, job.name, job.everyMs, logger)]));
  return { stop: () => schedules.forEach((schedule) => schedule.stop()) };
}
