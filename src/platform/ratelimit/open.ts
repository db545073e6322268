import { MemoryRateLimiter } from './memory.ts';
import type { RateLimiter } from './types.ts';

export type RateLimiterOptions = {
  /** Set when Redis is configured: counts are then kept there, shared by every instance. */
  readonly redis?: { readonly url: string; readonly prefix: string } | undefined;
  /** Most counters held in memory (without Redis, or while it is out of reach); the oldest go first past it. */
  readonly maxKeys: number;
  /** Redis connection trouble (ioredis reconnects by itself). */
  readonly onError: (error: Error) => void;
};

export async function openRateLimiter(options: RateLimiterOptions): Promise<RateLimiter> {
  const { redis, maxKeys, onError } = options;
  if (redis === undefined) return new MemoryRateLimiter({ maxKeys });
  // ioredis is loaded only with Redis, as it is used only then.
  const { RedisRateLimiter } = await import('./redis.ts');
  return new RedisRateLimiter({ redisUrl: redis.url, prefix: redis.prefix, maxKeys, onError });
}
