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

type MemoryJob = {
  readonly id: string;
  readonly name: string;
  readonly payload: unknown;
  readonly attempts: number;
  readonly backoffMs: number;
  state: JobState;
  attemptsMade: number;
  error?: string;
  timer?: NodeJS.Timeout;
};

/** The jobs of one name: its own waiting line, handler and concurrency, as a BullMQ queue. */
type Lane = {
  readonly jobs: Map<string, MemoryJob>;
  readonly waiting: MemoryJob[];
  readonly finished: Record<'completed' | 'failed', Set<string>>;
  handler?: JobHandler<unknown>;
  concurrency: number;
  running: number;
};

export type MemoryJobQueueOptions = { closeTimeoutMs?: number };

/**
 * In-process jobs for the single-process embedded profile, with BullMQ's semantics. Jobs live in
 * memory only: those not yet done when the process stops are lost.
 */
export class MemoryJobQueue implements JobQueue {
  readonly #lanes = new Map<string, Lane>();
  readonly #running = new Set<Promise<void>>();
  readonly #closeTimeoutMs: number;
  #nextId = 1;
  #closed = false;

  constructor(options: MemoryJobQueueOptions = {}) {
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  }

  async enqueue(name: string, payload: unknown, options: JobOptions = {}): Promise<string> {
    if (this.#closed) throw new Error('the job queue is closed');
    checkName(name, options.jobId);
    const lane = this.#lane(name);
    const id = options.jobId ?? String(this.#nextId++);
    if (lane.jobs.has(id)) return id;
    const job: MemoryJob = {
      id,
      name,
      payload: JSON.parse(JSON.stringify(payload ?? null)),
      attempts: options.attempts ?? DEFAULT_JOB_OPTIONS.attempts,
      backoffMs: options.backoffMs ?? DEFAULT_JOB_OPTIONS.backoffMs,
      state: 'waiting',
      attemptsMade: 0,
    };
    lane.jobs.set(id, job);
    this.#schedule(lane, job, options.delayMs ?? 0);
    return id;
  }

  process<P>(name: string, handler: JobHandler<P>, options: { concurrency?: number } = {}): void {
    const lane = this.#lane(name);
    if (lane.handler !== undefined) throw new Error(`jobs named ${name} already have a handler`);
    lane.handler = handler as JobHandler<unknown>;
    lane.concurrency = options.concurrency ?? 1;
    this.#pump(lane);
  }

  async status(name: string, id: string): Promise<JobStatus | undefined> {
    const job = this.#lanes.get(name)?.jobs.get(id);
    if (job === undefined) return undefined;
    return { state: job.state, attemptsMade: job.attemptsMade, ...(job.error !== undefined && { error: job.error }) };
  }

  async counts(name: string): Promise<JobCounts> {
    const counts: JobCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 };
    for (const job of this.#lanes.get(name)?.jobs.values() ?? []) counts[job.state] += 1;
    return counts;
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new Error('the job queue is closed');
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const lane of this.#lanes.values()) for (const job of lane.jobs.values()) clearTimeout(job.timer);
    // Past the timeout, jobs still running are abandoned: they end with the process.
    await settlesWithin(Promise.allSettled(this.#running), this.#closeTimeoutMs);
  }

  #lane(name: string): Lane {
    let lane = this.#lanes.get(name);
    if (lane === undefined) {
      lane = { jobs: new Map(), waiting: [], finished: { completed: new Set(), failed: new Set() }, concurrency: 1, running: 0 };
      this.#lanes.set(name, lane);
    }
    return lane;
  }

  /** Puts a job in line now, or marks it delayed and puts it in line later. */
  #schedule(lane: Lane, job: MemoryJob, delayMs: number): void {
    if (delayMs <= 0) {
      job.state = 'waiting';
      lane.waiting.push(job);
      this.#pump(lane);
      return;
    }
    job.state = 'delayed';
    if (this.#closed) return; // a retry after close would never run: memory jobs end with the process
    job.timer = setTimeout(() => {
      job.timer = undefined;
      this.#schedule(lane, job, 0);
    }, delayMs);
  }

  #pump(lane: Lane): void {
    while (!this.#closed && lane.handler !== undefined && lane.running < lane.concurrency) {
      const job = lane.waiting.shift();
      if (job === undefined) return;
      const run = this.#run(lane, lane.handler, job);
      this.#running.add(run);
      void run.finally(() => this.#running.delete(run));
    }
  }

  async #run(lane: Lane, handler: JobHandler<unknown>, job: MemoryJob): Promise<void> {
    job.state = 'active';
    lane.running += 1;
    try {
      await handler(job.payload, { id: job.id, name: job.name, attempt: job.attemptsMade + 1 });
      job.attemptsMade += 1;
      this.#finish(lane, job, 'completed');
    } catch (error) {
      job.attemptsMade += 1;
      job.error = error instanceof Error ? error.message : String(error);
      if (job.attemptsMade >= job.attempts) this.#finish(lane, job, 'failed');
      else this.#schedule(lane, job, job.backoffMs * 2 ** (job.attemptsMade - 1));
    } finally {
      lane.running -= 1;
      this.#pump(lane);
    }
  }

  #finish(lane: Lane, job: MemoryJob, state: 'completed' | 'failed'): void {
    job.state = state;
    const kept = lane.finished[state];
    kept.add(job.id);
    // A Set iterates in insertion order: the oldest finished jobs come first.
    for (const oldest of kept) {
      if (kept.size <= KEPT_FINISHED_JOBS[state]) return;
      kept.delete(oldest);
      lane.jobs.delete(oldest);
    }
  }
}

/** BullMQ refuses these; refusing them here too keeps the embedded profile honest. */
function checkName(name: string, jobId: string | undefined): void {
  if (name.includes(':')) throw new Error(`job name ${name} contains ':'`);
  if (jobId === undefined) return;
  if (jobId.includes(':') || String(Number.parseInt(jobId, 10)) === jobId) {
    throw new Error(`job id ${jobId} is an integer or contains ':'`);
  }
}
