export type JobOptions = {
  /** Runs at most this many times in all (default 3). */
  attempts?: number;
  /** Wait before retry n is backoffMs · 2^(n-1) (default 1000). */
  backoffMs?: number;
  /** Runs no sooner than this long after enqueueing. */
  delayMs?: number;
  /**
   * Dedupes: while a job of this name with this id is kept, enqueueing it again adds nothing.
   * Not an integer and without `:` (BullMQ reserves both).
   */
  jobId?: string;
};

export type JobInfo = { readonly id: string; readonly name: string; /** 1 on the first run. */ readonly attempt: number };

/** Payloads travel as JSON: the handler sees what `JSON.stringify` kept of what was enqueued. */
export type JobHandler<P> = (payload: P, job: JobInfo) => Promise<void>;

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export type JobStatus = {
  readonly state: JobState;
  /** Attempts that have finished, successfully or not. */
  readonly attemptsMade: number;
  /** The message of the latest failed attempt, if any failed (kept when a retry then succeeds). */
  readonly error?: string;
};

export type JobCounts = Record<JobState, number>;

export const DEFAULT_JOB_OPTIONS = { attempts: 3, backoffMs: 1000 } as const;

/** Finished jobs kept per job name (for status and dedupe); older ones are dropped. */
export const KEPT_FINISHED_JOBS = { completed: 1000, failed: 5000 } as const;

/**
 * Named background jobs with retries. Each job name is its own queue, with its own concurrency.
 * Enqueueing works whether or not this process handles that name.
 */
export interface JobQueue {
  /** Resolves with the job's id once the job is stored. */
  enqueue(name: string, payload: unknown, options?: JobOptions): Promise<string>;
  /**
   * Starts running jobs of `name`, at most `concurrency` (default 1) at once in this process; one
   * handler per name. The payload is not checked: `P` is what the enqueuers of `name` send.
   */
  process<P>(name: string, handler: JobHandler<P>, options?: { concurrency?: number }): void;
  status(name: string, id: string): Promise<JobStatus | undefined>;
  /** How many jobs of `name` are in each state (finished ones: as many as are kept). */
  counts(name: string): Promise<JobCounts>;
  /** Takes no more jobs and waits for running ones, up to the queue's close timeout. */
  /** Resolves when jobs can be enqueued (Redis answers); rejects otherwise (for readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
