import { Queue, Worker, type Job, type JobState as BullMQJobState } from 'bullmq';
import { Redis } from 'ioredis';
import { settlesWithin } from './settles-within.ts';
import {
  DEFAULT_JOB_OPTIONS,
  KEPT_FINISHED_JOBS,
  type JobCounts,
  type JobHandler,
  type JobOptions,
  type JobQueue,
  type JobState,
  type JobStatus,
} from './types.ts';

export type BullMQJobQueueOptions = {
  redisUrl: string;
  /** Namespaces every key, so deployments and test runs can share one Redis. */
  prefix: string;
  closeTimeoutMs?: number;
  /** Connection trouble (BullMQ reconnects by itself); a failing job is not an error here. */
  onError?: (error: Error) => void;
};

/**
 * Jobs in Redis through BullMQ: one BullMQ queue per job name, so each name has its own workers and
 * concurrency. Any process may enqueue; the processes that call `process` run the jobs.
 */
export class BullMQJobQueue implements JobQueue {
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Map<string, Worker>();
  readonly #options: BullMQJobQueueOptions;
  readonly #onError = (error: Error) => this.#options.onError?.(error);
  /** Shared by every name's Queue, which only send commands; each Worker opens its own. */
  readonly #connection: Redis;

  constructor(options: BullMQJobQueueOptions) {
    this.#options = options;
    this.#connection = new Redis(options.redisUrl, { lazyConnect: true });
    this.#connection.on('error', this.#onError);
  }

  async enqueue(name: string, payload: unknown, options: JobOptions = {}): Promise<string> {
    const job = await this.#queue(name).add(name, payload ?? null, {
      attempts: options.attempts ?? DEFAULT_JOB_OPTIONS.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs ?? DEFAULT_JOB_OPTIONS.backoffMs },
      delay: options.delayMs,
      jobId: options.jobId,
      removeOnComplete: { count: KEPT_FINISHED_JOBS.completed },
      removeOnFail: { count: KEPT_FINISHED_JOBS.failed },
    });
    return job.id as string;
  }

  process<P>(name: string, handler: JobHandler<P>, options: { concurrency?: number } = {}): void {
    if (this.#workers.has(name)) throw new Error(`jobs named ${name} already have a handler`);
    const run = (job: Job) => handler(job.data as P, { id: job.id as string, name, attempt: job.attemptsMade + 1 });
    // From options, BullMQ opens the worker's connections itself, with the settings blocking reads need.
    const worker = new Worker(name, run, {
      connection: { url: this.#options.redisUrl },
      prefix: this.#options.prefix,
      concurrency: options.concurrency ?? 1,
    });
    worker.on('error', this.#onError);
    this.#workers.set(name, worker);
  }

  async status(name: string, id: string): Promise<JobStatus | undefined> {
    const job = await this.#queue(name).getJob(id);
    if (job === undefined) return undefined;
    const state = toJobState(await job.getState());
    if (state === undefined) return undefined;
    return { state, attemptsMade: job.attemptsMade, ...(job.failedReason && { error: job.failedReason }) };
  }

  async counts(name: string): Promise<JobCounts> {
    const found = await this.#queue(name).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    const count = (state: string) => found[state] ?? 0;
    return {
      waiting: count('waiting') + count('prioritized'),
      delayed: count('delayed'),
      active: count('active'),
      completed: count('completed'),
      failed: count('failed'),
    };
  }

  async ping(): Promise<void> {
    await this.#connection.ping();
  }

  async close(): Promise<void> {
    const workers = [...this.#workers.values()];
    const finishing = Promise.all(workers.map((worker) => worker.close()));
    if (!(await settlesWithin(finishing, this.#options.closeTimeoutMs ?? 10_000))) {
      // Jobs still running lose their lock and run again later, on this or another worker.
      await Promise.all(workers.map((worker) => worker.disconnect()));
    }
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    this.#connection.disconnect();
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.#connection, prefix: this.#options.prefix });
      queue.on('error', this.#onError);
      this.#queues.set(name, queue);
    }
    return queue;
  }
}

/** BullMQ states this interface does not use (priorities, flows) count as waiting. */
function toJobState(state: BullMQJobState | 'unknown'): JobState | undefined {
  if (state === 'prioritized' || state === 'waiting-children') return 'waiting';
  if (state === 'unknown') return undefined;
  return state;
}
