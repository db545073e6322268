import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedKey, clientNetwork, MAX_KEY_LENGTH } from '../../src/platform/ratelimit/keys.ts';
import { MemoryRateLimiter } from '../../src/platform/ratelimit/memory.ts';
import type { RateLimiter } from '../../src/platform/ratelimit/types.ts';

/** The rate limiter contract; the Redis implementation joins this list when it exists. */
const implementations: [string, (now: () => number) => RateLimiter][] = [
  ['memory', (now) => new MemoryRateLimiter({ now })],
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

    it('counts long keys whole: keys that differ only at the end are separate', async () => {
      const limiter = create(Date.now);
      try {
        const long = 'login:account:' + 'x'.repeat(10_000);
        assert.equal((await limiter.hit(`${long}a`, 1, 60)).allowed, true);
        assert.equal((await limiter.hit(`${long}a`, 1, 60)).allowed, false);
        assert.equal((await limiter.hit(`${long}b`, 1, 60)).allowed, true);
      } finally {
        await limiter.close();
      }
    });
  });
}

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
