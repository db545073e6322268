import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { hasRedisServer, pingRedis, startRedis } from '../../scripts/services/redis.ts';

const redisUrlFromEnv = process.env.REDIS_URL || undefined;

/** Why a suite on Redis cannot run here, or false: REDIS_URL's server, or a redis-server of the file's own. */
export const redisSkip = redisUrlFromEnv === undefined && !hasRedisServer() && 'no REDIS_URL and no redis-server binary';

export type SuiteRedis = {
  /** Redis's URL, once the suite's `before` hooks have run. */
  readonly url: string;
  /** A connection of the suite's own, for looking into Redis. */
  readonly client: Redis;
  /** A key prefix no other test, file or run uses; every key under it is deleted after the suite. */
  newPrefix(): string;
  /** Deletes the keys matching `pattern` (a SCAN pattern). */
  deleteKeys(pattern: string): Promise<void>;
  /** Closes `opened` after the suite, before its keys are deleted and a private Redis stops. */
  closedAfter<T extends { close(): Promise<unknown> }>(opened: T): T;
};

/**
 * Registers, in the calling suite, hooks that reach Redis (REDIS_URL's, or a private redis-server
 * started for the suite) and afterwards close what the tests opened on it and delete every key made
 * under the suite's prefixes. A wrong
 * REDIS_URL fails the suite at once: BullMQ and ioredis would wait for it forever.
 */
export function redisPerSuite(): SuiteRedis {
  // Under one prefix of this suite's, so parallel runs and files never share keys.
  const suitePrefix = `plaza-test-${randomBytes(6).toString('hex')}`;
  let privateRedis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let url = '';
  let client: Redis | undefined;
  let made = 0;
  const opened: { close(): Promise<unknown> }[] = [];
  const deleteKeys = async (pattern: string) => {
    for await (const keys of (client as Redis).scanStream({ match: pattern, count: 1000 })) {
      if ((keys as string[]).length > 0) await (client as Redis).del(...(keys as string[]));
    }
  };
  before(async () => {
    if (redisUrlFromEnv === undefined) privateRedis = await startRedis(new AbortController().signal);
    const reached = privateRedis?.url ?? redisUrlFromEnv ?? '';
    await pingRedis(reached).catch((error: unknown) => assert.fail(`Redis at ${reached} does not answer: ${String(error)}`));
    url = reached;
    client = new Redis(url);
  });
  after(async () => {
    await Promise.all(opened.map((thing) => thing.close()));
    if (client !== undefined) {
      await deleteKeys(`${suitePrefix}-*`);
      await client.quit();
    }
    await privateRedis?.stop();
  });
  return {
    get url() {
      return url || assert.fail('Redis is reached in the suite’s before hook');
    },
    get client() {
      return client ?? assert.fail('Redis is reached in the suite’s before hook');
    },
    newPrefix: () => `${suitePrefix}-${++made}`,
    deleteKeys,
    closedAfter(thing) {
      opened.push(thing);
      return thing;
    },
  };
}
