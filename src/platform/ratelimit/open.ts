import { MemoryRateLimiter } from './memory.ts';
import type { RateLimiter } from './types.ts';

export type RateLimiterOptions = {
  /** Most counters held in memory; the oldest go first past it. */
  readonly maxKeys: number;
};

/** Counters in this process's memory; a Redis limiter, shared by every instance, comes with scale-out. */
export function openRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new MemoryRateLimiter({ maxKeys: options.maxKeys });
}
