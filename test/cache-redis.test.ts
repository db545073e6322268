import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startApp, type TestApp } from './helpers/app.ts';
import { follow, publish, signUp } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { eventually, jobsIdle } from './helpers/wait.ts';

/** REDIS_CACHE_URL takes the home feeds, a cache, to a Redis of their own; the jobs stay on REDIS_URL's. */

const redisUrl = process.env.REDIS_URL || undefined;

/** The same server's database 1 stands in for a separate cache Redis. */
function cacheUrlBeside(url: string): string {
  const cache = new URL(url);
  cache.pathname = '/1';
  return cache.toString();
}

describe('home feeds in a cache Redis of their own', { skip: redisUrl === undefined && 'needs REDIS_URL (the services run)' }, () => {
  let testApp: TestApp;
  let main: Redis;
  let cache: Redis;
  before(async () => {
    const cacheUrl = cacheUrlBeside(redisUrl as string);
    testApp = await startApp({ REDIS_CACHE_URL: cacheUrl });
    main = new Redis(redisUrl as string);
    cache = new Redis(cacheUrl);
  });
  after(async () => {
    await testApp?.close();
    for (const connection of [main, cache]) {
      for await (const keys of connection.scanStream({ match: `${testApp.config.redisPrefix}:*`, count: 1000 })) {
        if ((keys as string[]).length > 0) await connection.del(...(keys as string[]));
      }
      await connection.quit();
    }
  });

  it('writes the fanned-out feeds there, and the jobs to the main one', async () => {
    const api = client(testApp);
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const post = await publish(api, author, 'cached elsewhere');
    await jobsIdle(testApp);
    await eventually(async () => {
      const home = await api.get('/v1/timelines/home', { token: reader.accessToken });
      assert.deepEqual(home.body.items.map((item: { id: string }) => item.id), [post.id]);
    });
    const feedKey = `${testApp.config.redisPrefix}:feed:${reader.user.id}`;
    assert.equal(await cache.exists(feedKey), 1, 'the feed is in the cache Redis');
    assert.equal(await main.exists(feedKey), 0, 'and not in the main one');
    const mainKeys = await main.keys(`${testApp.config.redisPrefix}:*`);
    assert.ok(mainKeys.some((key) => key.includes('fan-out') || key.includes(':meta')), `jobs stay on REDIS_URL: ${mainKeys.slice(0, 5).join(', ')}`);
  });
});
