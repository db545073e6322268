export type TaskSlotsOptions = {
  /** Tasks that may run at once. */
  concurrency: number;
  /** Tasks that may wait for a slot; more are refused at once. */
  queueLimit: number;
  /** The error a task refused for a full queue fails with (its status tells the caller what to do). */
  refusal: () => Error;
};

/**
 * Lets at most `concurrency` tasks run at once in this process, and up to `queueLimit` more wait
 * their turn in order; past that a task is refused at once rather than queueing without end. For
 * work that holds something scarce (a core, one of libuv's threads) while a request waits on it.
 */
export class TaskSlots {
  readonly concurrency: number;
  readonly queueLimit: number;
  readonly #refusal: () => Error;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: TaskSlotsOptions) {
    this.concurrency = options.concurrency;
    this.queueLimit = options.queueLimit;
    this.#refusal = options.refusal;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running < this.concurrency) this.#running += 1;
    else if (this.#waiting.length < this.queueLimit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else throw this.#refusal();
    try {
      return await task();
    } finally {
      // The slot goes straight to the next in line, or back to the pool.
      const next = this.#waiting.shift();
      if (next === undefined) this.#running -= 1;
      else next();
    }
  }
}
