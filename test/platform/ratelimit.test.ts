import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/platform/ratelimit/memory.ts';
import type { RateLimiter } from '../../src/platform/ratelimit/types.ts';

/** The rate limiter contract; the Redis implementation joins this list when it exists. */
const implementations: [string, (now: () => number) => RateLimiter][] = [
  ['memory', (now) => new MemoryRateLimiter(now)],
];

for (const [name, create] of implementations) {
  describe(`rate limiter (${name})`, () => {
    it('allows up to the limit in a window, then says how long to wait', async () => {
      let now = 1_000_000;
      const limiter = create(() => now);
      try {
        for (let i = 1; i <= 3; i++) assert.deepEqual(await limiter.hit('k', 3, 60), { allowed: true, remaining: 3 - i });
        now += 15_000;
        assert.deepEqual(await limiter.hit('k', 3, 60), { allowed: false, retryAfterSeconds: 45 });
        now += 45_000;
        assert.deepEqual(await limiter.hit('k', 3, 60), { allowed: true, remaining: 2 }, 'a new window starts');
      } finally {
        await limiter.close();
      }
    });

    it('counts keys separately', async () => {
      const limiter = create(Date.now);
      try {
        assert.equal((await limiter.hit('a', 1, 60)).allowed, true);
        assert.equal((await limiter.hit('a', 1, 60)).allowed, false);
        assert.equal((await limiter.hit('b', 1, 60)).allowed, true);
      } finally {
        await limiter.close();
      }
    });

    it('counts every one of many simultaneous hits', async () => {
      const limiter = create(Date.now);
      try {
        const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.hit('burst', 10, 60)));
        assert.equal(decisions.filter((decision) => decision.allowed).length, 10);
      } finally {
        await limiter.close();
      }
    });
  });
}
