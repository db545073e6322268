import { Redis } from 'ioredis';
import { boundedKey } from './keys.ts';
import { MemoryRateLimiter } from './memory.ts';
import type { RateLimitDecision, RateLimiter } from './types.ts';

export type RedisRateLimiterOptions = {
  redisUrl: string;
  /** Namespaces every key, so deployments and test runs can share one Redis. */
  prefix: string;
  /** Longest a hit waits for Redis before this instance decides it alone (default 500 ms). */
  timeoutMs?: number;
  /** Most counters the stand-in limiter holds while Redis is out of reach. */
  maxKeys?: number;
  /** Connection trouble (ioredis reconnects by itself), and once per outage, the fall back to counting in this instance. */
  onError?: (error: Error) => void;
};

/**
 * Fixed-window counters in Redis, shared by every instance: a window is one key, created by its
 * first hit with the window's length as its expiry, so every key expires and a refused client is
 * told the key's remaining time. One script call per hit: atomic, one round trip.
 *
 * Redis down: hits are counted in this process instead (the memory limiter), and an error is
 * logged once per outage. Failing closed (503) would stop every sign-in while Redis is out, which
 * readiness already reports (for the queue); failing open would lift brute-force protection exactly
 * then. Counting locally keeps each instance's limits: at most one budget per instance.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #prefix: string;
  readonly #redis: Redis & HitCommand;
  readonly #local: MemoryRateLimiter;
  readonly #onError: (error: Error) => void;
  /** Whether the last hit was counted locally; cleared by the first one Redis answers again. */
  #degraded = false;

  constructor(options: RedisRateLimiterOptions) {
    this.#prefix = options.prefix;
    this.#onError = options.onError ?? (() => {});
    this.#redis = new Redis(options.redisUrl, { lazyConnect: true, commandTimeout: options.timeoutMs ?? 500 }) as Redis & HitCommand;
    this.#redis.on('error', this.#onError);
    this.#redis.defineCommand('plazaRateLimitHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.#local = new MemoryRateLimiter({ maxKeys: options.maxKeys });
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    // While out of reach, a hit does not wait for each reconnect attempt to time out.
    if (this.#degraded && this.#redis.status !== 'ready') return this.#local.hit(key, limit, windowSeconds);
    let reply: [number, number];
    try {
      reply = await this.#redis.plazaRateLimitHit(this.key(key, windowSeconds), windowSeconds * 1000);
    } catch (error) {
      if (!this.#degraded) {
        this.#degraded = true;
        this.#onError(new Error('Redis did not answer: counting in this instance until it does', { cause: error }));
      }
      return this.#local.hit(key, limit, windowSeconds);
    }
    this.#degraded = false;
    const [count, ttlMs] = reply;
    if (count <= limit) return { allowed: true, remaining: limit - count };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }

  /** The Redis key of `key`'s counter for windows of `windowSeconds`. */
  key(key: string, windowSeconds: number): string {
    return `${this.#prefix}:ratelimit:${windowSeconds}s:${boundedKey(key)}`;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
    await this.#local.close();
  }
}

type HitCommand = { plazaRateLimitHit(key: string, windowMs: number): Promise<[number, number]> };

/**
 * KEYS[1] the counter, ARGV[1] the window in ms: counts one hit, answers the count and the
 * counter's remaining ms. The expiry is set when missing (the window's first hit, or a counter
 * whose expiry was lost), so no counter outlives its window.
 */
const HIT_SCRIPT = `
local count = redis.call('incr', KEYS[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('pexpire', KEYS[1], ttl)
end
return {count, ttl}
`;
