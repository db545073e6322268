import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../../scripts/services/common.ts';
import { boundedKey, clientNetwork, MAX_KEY_LENGTH } from '../../src/platform/ratelimit/keys.ts';
import { MemoryRateLimiter } from '../../src/platform/ratelimit/memory.ts';
import { RedisRateLimiter } from '../../src/platform/ratelimit/redis.ts';
import type { RateLimiter } from '../../src/platform/ratelimit/types.ts';
import { redisPerSuite, redisSkip } from '../helpers/redis.ts';
import { eventually } from '../helpers/wait.ts';

/** A new limiter; Redis ones made with the same `shared` name count together, as instances of one deployment. */
type LimiterFactory = (shared?: string) => RateLimiter;

/**
 * The rate limiter contract, on the real clock. The memory limiter always runs it; the Redis one
 * runs it on REDIS_URL when set, else on a private redis-server when one is installed, else it is skipped.
 */
function contract(create: LimiterFactory) {
  const using = async (work: (limiter: RateLimiter) => Promise<void>) => {
    const limiter = create();
    try {
      await work(limiter);
    } finally {
      await limiter.close();
    }
  };

  it('allows up to the limit in a window, then says how long to wait', () =>
    using(async (limiter) => {
      for (let i = 1; i <= 3; i++) assert.deepEqual(await limiter.hit('k', 3, 60), { allowed: true, remaining: 3 - i });
      const refused = await limiter.hit('k', 3, 60);
      assert.equal(refused.allowed, false);
      assert.ok(!refused.allowed && refused.retryAfterSeconds >= 59 && refused.retryAfterSeconds <= 60, JSON.stringify(refused));
    }));

  it('starts a new window once the last one has passed', () =>
    using(async (limiter) => {
      assert.deepEqual(await limiter.hit('k', 1, 1), { allowed: true, remaining: 0 });
      assert.deepEqual(await limiter.hit('k', 1, 1), { allowed: false, retryAfterSeconds: 1 });
      // Refused hits (one per poll) are counted in the old window, and do not stretch it.
      await eventually(async () => assert.deepEqual(await limiter.hit('k', 1, 1), { allowed: true, remaining: 0 }), 3_000);
      assert.equal((await limiter.hit('k', 1, 1)).allowed, false, 'and the new window counts from there');
    }));

  it('counts keys separately', () =>
    using(async (limiter) => {
      assert.equal((await limiter.hit('a', 1, 60)).allowed, true);
      assert.equal((await limiter.hit('a', 1, 60)).allowed, false);
      assert.equal((await limiter.hit('b', 1, 60)).allowed, true);
    }));

  it('counts every one of many simultaneous hits', () =>
    using(async (limiter) => {
      const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.hit('burst', 10, 60)));
      const remaining = decisions.flatMap((decision) => (decision.allowed ? [decision.remaining] : []));
      assert.deepEqual(remaining.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }));

  it('counts long keys whole: keys that differ only at the end are separate', () =>
    using(async (limiter) => {
      const long = 'login:account:' + 'x'.repeat(10_000);
      assert.equal((await limiter.hit(`${long}a`, 1, 60)).allowed, true);
      assert.equal((await limiter.hit(`${long}a`, 1, 60)).allowed, false);
      assert.equal((await limiter.hit(`${long}b`, 1, 60)).allowed, true);
    }));
}

describe('rate limiter (memory)', () => {
  contract(() => new MemoryRateLimiter());

  it('says how long is left of the window, from its first hit', async () => {
    let now = 1_000_000;
    const limiter = new MemoryRateLimiter({ now: () => now });
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
});

describe('rate limiter (redis)', { skip: redisSkip }, () => {
  const redisForSuite = redisPerSuite();
  const sharedPrefixes = new Map<string, string>();

  /** A limiter of its own, or one of those made with the same `shared` name (the same prefix, another connection). */
  const redis = (shared?: string) => {
    const prefix = shared === undefined ? redisForSuite.newPrefix() : (sharedPrefixes.get(shared) ?? redisForSuite.newPrefix());
    if (shared !== undefined) sharedPrefixes.set(shared, prefix);
    return redisForSuite.closedAfter(new RedisRateLimiter({ redisUrl: redisForSuite.url, prefix }));
  };
  contract(redis);

  it('shares one count between instances, each on its own connection', async () => {
    const [a, b] = [redis('shared-count'), redis('shared-count')];
    assert.deepEqual(await a.hit('login:ip:203.0.113.9', 3, 60), { allowed: true, remaining: 2 });
    assert.deepEqual(await b.hit('login:ip:203.0.113.9', 3, 60), { allowed: true, remaining: 1 });
    assert.deepEqual(await a.hit('login:ip:203.0.113.9', 3, 60), { allowed: true, remaining: 0 });
    assert.equal((await b.hit('login:ip:203.0.113.9', 3, 60)).allowed, false);
    assert.equal((await a.hit('login:ip:203.0.113.9', 3, 60)).allowed, false);
  });

  it('allows exactly the limit of many simultaneous hits through several instances', async () => {
    const instances = [redis('shared-burst'), redis('shared-burst'), redis('shared-burst')];
    const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => instances[i % 3]!.hit('burst', 40, 60)));
    const remaining = decisions.flatMap((decision) => (decision.allowed ? [decision.remaining] : []));
    assert.deepEqual(remaining.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  });

  it('keeps each counter under a key naming Plaza’s prefix and the window, expiring with the window', async () => {
    const limiter = redis();
    await limiter.hit('signup:ip:203.0.113.9', 5, 900);
    const key = limiter.key('signup:ip:203.0.113.9', 900);
    assert.match(key, /^plaza-test-[0-9a-f]{12}-\d+:ratelimit:900s:signup:ip:203\.0\.113\.9$/);
    assert.equal(await redisForSuite.client.get(key), '1');
    const ttl = await redisForSuite.client.pttl(key);
    assert.ok(ttl > 895_000 && ttl <= 900_000, `expires with its window (PTTL ${ttl})`);
    await limiter.hit('signup:ip:203.0.113.9', 5, 900);
    assert.ok((await redisForSuite.client.pttl(key)) <= ttl, 'later hits do not push the expiry back');

    const long = limiter.key(`login:account:${'x'.repeat(10_000)}`, 60);
    assert.ok(long.length < 200, 'a long key is stored by its hash');

    await redisForSuite.client.persist(key); // however an expiry was lost, the next hit gives it one back
    await limiter.hit('signup:ip:203.0.113.9', 5, 900);
    assert.ok((await redisForSuite.client.pttl(key)) > 0);
  });

  it('tells a refused client the time left on the counter', async () => {
    const limiter = redis();
    await limiter.hit('k', 1, 60);
    await redisForSuite.client.pexpire(limiter.key('k', 60), 12_345);
    assert.deepEqual(await limiter.hit('k', 1, 60), { allowed: false, retryAfterSeconds: 13 });
  });

  it('counts in the instance, and says so once, while Redis does not answer', async () => {
    const errors: Error[] = [];
    const limiter = new RedisRateLimiter({
      redisUrl: `redis://127.0.0.1:${await freePort()}`, // nothing listens there
      prefix: redisForSuite.newPrefix(),
      timeoutMs: 200,
      onError: (error) => errors.push(error),
    });
    try {
      const decisions = [];
      for (let i = 0; i < 4; i++) decisions.push(await limiter.hit('k', 2, 60));
      assert.deepEqual(decisions.slice(0, 3).map((decision) => decision.allowed), [true, true, false]);
      assert.deepEqual(decisions[3], { allowed: false, retryAfterSeconds: 60 });
      const fallbacks = errors.filter((error) => error.message.startsWith('Redis did not answer'));
      assert.equal(fallbacks.length, 1, errors.map((error) => error.message).join('\n'));
    } finally {
      await limiter.close();
    }
  });
});

describe('memory rate limiter bounds', () => {
  it('holds at most maxKeys windows however many distinct keys arrive, dropping the oldest', async () => {
    const limiter = new MemoryRateLimiter({ maxKeys: 1000 });
    try {
      assert.equal((await limiter.hit('early', 1, 60)).allowed, true);
      for (let i = 0; i < 20_000; i++) await limiter.hit(`login:account:user${i}@example.test`, 10, 900);
      assert.equal(limiter.size, 1000);
      // The newest windows are kept (and still counting), the oldest went.
      assert.deepEqual(await limiter.hit('login:account:user19999@example.test', 10, 900), { allowed: true, remaining: 8 });
      assert.equal(limiter.size, 1000);
      assert.equal((await limiter.hit('early', 1, 60)).allowed, true, 'its window was dropped, not kept over the cap');
    } finally {
      await limiter.close();
    }
  });

  it('reuses an expired window in place rather than adding one', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ maxKeys: 10, now: () => now });
    try {
      for (let round = 0; round < 5; round++) {
        now += 61_000;
        assert.equal((await limiter.hit('k', 1, 60)).allowed, true);
      }
      assert.equal(limiter.size, 1);
    } finally {
      await limiter.close();
    }
  });
});

describe('rate limiter keys', () => {
  it('keeps short keys as they are and bounds long ones', () => {
    assert.equal(boundedKey('login:ip:203.0.113.9'), 'login:ip:203.0.113.9');
    const long = `login:account:${'a'.repeat(100_000)}`;
    assert.ok(boundedKey(long).length <= MAX_KEY_LENGTH);
    assert.equal(boundedKey(long), boundedKey(long));
    assert.notEqual(boundedKey(`${long}1`), boundedKey(`${long}2`));
  });

  it('counts an IPv4 address alone and an IPv6 address by its /64', () => {
    assert.equal(clientNetwork('203.0.113.9'), '203.0.113.9');
    assert.equal(clientNetwork('::ffff:203.0.113.9'), '203.0.113.9', 'IPv4-mapped');
    assert.equal(clientNetwork('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientNetwork('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64', 'same /64, other spelling');
    assert.equal(clientNetwork('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientNetwork('2001:db8:0:1::1'), '2001:db8:0:1::/64', 'the neighbouring /64 is another client');
    assert.equal(clientNetwork('::1'), '0:0:0:0::/64');
    assert.equal(clientNetwork('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientNetwork('64:ff9b:1:2::192.0.2.1'), '64:ff9b:1:2::/64');
  });
});
