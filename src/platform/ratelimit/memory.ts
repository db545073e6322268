import { boundedKey } from './keys.ts';
import type { RateLimitDecision, RateLimiter } from './types.ts';

type Window = { count: number; resetsAt: number };

const SWEEP_EVERY_MS = 60_000;

export type MemoryRateLimiterOptions = {
  /**
   * Most windows held at once. Past it the oldest window is dropped, so a flood of fresh keys
   * (addresses, emails) costs a bounded amount of memory.
   */
  maxKeys?: number;
  now?: () => number;
};

/** In-process fixed-window counters, for the single-process embedded profile. */
export class MemoryRateLimiter implements RateLimiter {
  /** Ordered by when each window began (a renewed window is moved to the end), oldest first. */
  readonly #windows = new Map<string, Window>();
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
    // Expired windows would otherwise stay until evicted, one per IP ever seen.
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_EVERY_MS).unref();
  }

  /** How many windows are held. */
  get size(): number {
    return this.#windows.size;
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const now = this.#now();
    const stored = boundedKey(key);
    let window = this.#windows.get(stored);
    if (window === undefined || window.resetsAt <= now) {
      this.#windows.delete(stored);
      if (this.#windows.size >= this.#maxKeys) this.#dropOldest();
      window = { count: 0, resetsAt: now + windowSeconds * 1000 };
      this.#windows.set(stored, window);
    }
    window.count += 1;
    if (window.count <= limit) return { allowed: true, remaining: limit - window.count };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.resetsAt - now) / 1000)) };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#windows.clear();
  }

  #dropOldest(): void {
    const oldest = this.#windows.keys().next();
    if (oldest.done !== true) this.#windows.delete(oldest.value);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, window] of this.#windows) if (window.resetsAt <= now) this.#windows.delete(key);
  }
}
