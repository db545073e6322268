import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { OutboxHandlerDefinition } from '../src/platform/outbox/types.ts';
import * as postsStore from '../src/modules/posts/store.ts';
import * as socialStore from '../src/modules/social/store.ts';
import { TIMELINE_EVENTS, type FanOutEvent, type FollowEvent } from '../src/modules/timelines/events.ts';
import { timelineHandlers, type TimelineHandlerDeps } from '../src/modules/timelines/outbox.ts';
import { appPerFile } from './helpers/app.ts';
import { queriesDuring } from './helpers/queries.ts';
import { assertProblem, follow, publish, signUp, unfollow, type TestSession } from './helpers/factories.ts';
import type { Answer } from './helpers/http.ts';
import { eventually, jobsIdle } from './helpers/wait.ts';

/** Authors with more than this many followers are merged in at read time instead of fanned out. */
const FANOUT_MAX_FOLLOWERS = 3;

const FEED_BACKFILL_POSTS = 5;

const shared = appPerFile({ FANOUT_MAX_FOLLOWERS: String(FANOUT_MAX_FOLLOWERS), FEED_BACKFILL_POSTS: String(FEED_BACKFILL_POSTS) });
const { api } = shared;

/** Publishes a post and returns its id. */
const post = async (author: TestSession, text: string, visibility = 'public') => (await publish(api, author, { text, visibility })).id as string;
/** What the reader's cached feed holds (Redis, or the embedded feed table), newest first. */
const cachedFeed = async (reader: TestSession, limit = 10) => (await shared.testApp.deps.feeds.page(reader.user.id, { limit })).postIds;

async function home(reader: TestSession, limit = 100, cursor?: string): Promise<Answer> {
  const answer = await api.get(`/v1/timelines/home?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token: reader.accessToken });
  assert.equal(answer.status, 200, answer.text);
  return answer;
}
const homeIds = async (reader: TestSession) => (await home(reader)).body.items.map((post: { id: string }) => post.id) as string[];

describe('the home timeline', () => {
  test('shows your own post at once, and a followee’s within a second, newest first', async () => {
    const [reader, author] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const mine = await post(reader, 'mine');
    assert.deepEqual(await homeIds(reader), [mine], 'no wait for one’s own post');
    const theirs = await post(author, 'theirs');
    const started = Date.now();
    await eventually(async () => assert.deepEqual(await homeIds(reader), [theirs, mine]), 1000);
    assert.ok(Date.now() - started < 1000);
    assertProblem(await api.get('/v1/timelines/home'), 401, 'unauthorized');
  });

  test('backfills a newly followed account and drops it on unfollow; deleted posts never show', async () => {
    const [reader, author] = await Promise.all([signUp(api), signUp(api)]);
    const older = [];
    for (let i = 0; i < 7; i++) older.push(await post(author, `before the follow ${i}`));
    assert.deepEqual(await homeIds(reader), []);
    await follow(api, reader, author);
    const backfilled = older.slice(-5).reverse();
    await eventually(async () => assert.deepEqual(await homeIds(reader), backfilled), 2000);

    await api.delete(`/v1/posts/${backfilled[0]}`, undefined, { token: author.accessToken });
    assert.deepEqual(await homeIds(reader), backfilled.slice(1), 'gone at once');
    await unfollow(api, reader, author);
    assert.deepEqual(await homeIds(reader), [], 'gone at once, before any clean-up job');
    await eventually(async () => assert.deepEqual(await cachedFeed(reader), []), 2000);
  });

  test('shows followers-only posts of those you follow, and no one else’s', async () => {
    const [reader, followed, stranger] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, reader, followed);
    const inner = await post(followed, 'for followers', 'followers');
    await post(stranger, 'not followed');
    await eventually(async () => assert.deepEqual(await homeIds(reader), [inner]), 1000);
  });

  test('merges in popular authors at read time instead of fanning them out', async () => {
    const star = await signUp(api);
    const fans = await Promise.all(Array.from({ length: FANOUT_MAX_FOLLOWERS + 1 }, () => signUp(api)));
    for (const fan of fans) await follow(api, fan, star);
    const [fan] = fans as [TestSession];
    const mine = await post(fan, 'a fan writes');
    const starPost = await post(star, 'a star writes');
    await jobsIdle(shared.testApp); // a fan-out, if there were one, has run
    assert.ok(!(await cachedFeed(fan)).includes(starPost), 'not fanned out');
    assert.deepEqual((await homeIds(fan)).slice(0, 2), [starPost, mine]);
  });

  test('pages through fanned-out and merged posts in order, and fans out again below the line', async () => {
    const [star, author] = await Promise.all([signUp(api), signUp(api)]);
    const fans = await Promise.all(Array.from({ length: FANOUT_MAX_FOLLOWERS + 1 }, () => signUp(api)));
    for (const fan of fans) await follow(api, fan, star);
    const [reader, ...leaving] = fans as [TestSession, TestSession, TestSession];
    await follow(api, reader, author);
    const posted: string[] = [];
    for (let i = 0; i < 6; i++) posted.push(await post(author, `a${i}`), await post(star, `s${i}`));
    await eventually(async () => assert.equal((await homeIds(reader)).length, posted.length), 2000);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const answer = await home(reader, 5, cursor);
      seen.push(...answer.body.items.map((post: { id: string }) => post.id));
      cursor = answer.body.nextCursor ?? undefined;
    } while (cursor !== undefined);
    assert.deepEqual(seen, [...posted].reverse());

    // Below the line's lower mark (see fan-out-threshold.test.ts): fanned out again.
    for (const fan of leaving.slice(0, 2)) await unfollow(api, fan, star);
    const afterDrop = await post(star, 'fanned out again');
    await eventually(async () => assert.ok((await cachedFeed(reader, 5)).includes(afterDrop)), 2000);
    assert.equal((await homeIds(reader))[0], afterDrop);
  });

  test('pages without repeats or gaps while followees keep posting', async () => {
    const [reader, author] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const posted = [];
    for (let i = 0; i < 9; i++) posted.push(await post(author, `p${i}`));
    await eventually(async () => assert.equal((await homeIds(reader)).length, 9), 2000);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const answer = await home(reader, 4, cursor);
      seen.push(...answer.body.items.map((post: { id: string }) => post.id));
      cursor = answer.body.nextCursor ?? undefined;
      await post(author, 'newer than every cursor');
    } while (cursor !== undefined);
    assert.deepEqual(seen, [...posted].reverse());
  });

  test('costs the same number of queries for a page of 2 as for a page of 20', async () => {
    const [reader, author, star] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, reader, author);
    await follow(api, reader, star);
    for (let i = 0; i < 12; i++) {
      await post(author, `a${i}`);
      await post(star, `s${i}`);
    }
    await eventually(async () => assert.equal((await homeIds(reader)).length, 24), 2000);
    await jobsIdle(shared.testApp); // so that only the reads are counted
    const queriesFor = (limit: number) =>
      queriesDuring(shared.testApp, async () => assert.equal((await home(reader, limit)).body.items.length, limit));
    await queriesFor(2); // rereads what is cached for a few seconds (sessions, the popular authors)
    assert.equal(await queriesFor(20), await queriesFor(2));
  });

  test('rebuilds a lost Redis feed from PostgreSQL (the embedded feed table is never lost)', async () => {
    const [reader, author] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const posts = [await post(author, 'one'), await post(author, 'two')];
    await eventually(async () => assert.deepEqual(await homeIds(reader), [...posts].reverse()), 2000);
    if (shared.testApp.config.redisUrl !== undefined) {
      const redis = new Redis(shared.testApp.config.redisUrl);
      try {
        const keys = await redis.keys(`${shared.testApp.config.redisPrefix}:feed:*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
      assert.equal((await shared.testApp.deps.feeds.page(reader.user.id, { limit: 10 })).complete, false, 'the cache is gone');
    }
    assert.deepEqual(await homeIds(reader), [...posts].reverse(), 'answered from PostgreSQL');
    assert.deepEqual(await cachedFeed(reader), [...posts].reverse(), 'and rebuilt');
  });
});

describe('the timeline handlers', () => {
  /**
   * A handler as the app's relay runs it, put together from the app's own stores and feeds, for a
   * test to call itself: with `social` partly replaced where the test must step in between its reads.
   */
  function handler<P>(topic: string, social: Partial<TimelineHandlerDeps['social']> = {}): OutboxHandlerDefinition<P> {
    const { database, feeds } = shared.testApp.deps;
    const db = database.db;
    const handlers = timelineHandlers({
      feeds,
      social: {
        followersOf: (userIds) => socialStore.followersOf(db, userIds),
        fanOutAudiences: (authorIds) => socialStore.fanOutAudiences(db, authorIds, FANOUT_MAX_FOLLOWERS),
        missingFollows: (follows) => socialStore.missingFollows(db, follows),
        ...social,
      },
      posts: { latestOfEach: (authorIds, limit) => postsStore.latestOfEach(db, authorIds, limit) },
      backfillPosts: FEED_BACKFILL_POSTS,
    });
    return handlers.find((each) => each.topic === topic) as unknown as OutboxHandlerDefinition<P>;
  }

  /** The statements reading posts or writing feeds that `work` runs. */
  async function feedStatements(work: () => Promise<void>): Promise<number> {
    const start = shared.testApp.queries.length;
    await work();
    return shared.testApp.queries.slice(start).filter((query) => /\b(posts|home_feeds)\b/.test(query)).length;
  }

  test('backfill and clean up a batch of follows with one statement each, whatever their number', async () => {
    const authors = await Promise.all(Array.from({ length: 4 }, () => signUp(api)));
    const readers = await Promise.all(Array.from({ length: 5 }, () => signUp(api)));
    const written = new Map<TestSession, string[]>();
    for (const author of authors) written.set(author, [await post(author, 'one'), await post(author, 'two')]);
    for (const reader of readers) await homeIds(reader); // builds a cached feed
    const pairs = readers.flatMap((reader, i) => [authors[i % 4]!, authors[(i + 1) % 4]!].map((author) => ({ reader, author })));
    for (const { reader, author } of pairs) await follow(api, reader, author);
    await jobsIdle(shared.testApp);
    const follows: FollowEvent[] = pairs.map(({ reader, author }) => ({ followerId: reader.user.id, followeeId: author.user.id }));
    const expected = (reader: TestSession) =>
      pairs.filter((pair) => pair.reader === reader).flatMap((pair) => written.get(pair.author)!).sort().reverse();

    const unfollows = handler<FollowEvent>(TIMELINE_EVENTS.unfollow);
    assert.ok((unfollows.batchSize ?? 1) >= follows.length, 'the relay hands unfollows over in batches');
    assert.ok((await feedStatements(() => unfollows.handle(follows))) <= 1, 'one statement (none with Redis feeds)');
    for (const reader of readers) assert.deepEqual(await cachedFeed(reader), []);

    const backfills = handler<FollowEvent>(TIMELINE_EVENTS.backfill);
    assert.ok((backfills.batchSize ?? 1) >= follows.length, 'the relay hands backfills over in batches');
    assert.ok((await feedStatements(() => backfills.handle(follows))) <= 2, 'the posts in one query, the feeds in one statement');
    for (const reader of readers) assert.deepEqual(await cachedFeed(reader), expected(reader));
  });

  test('a fan-out whose audience was read before an unfollow, and that writes after its clean-up, leaves nothing behind', async () => {
    const [reader, author] = await Promise.all([signUp(api), signUp(api)]);
    await homeIds(reader); // builds a cached feed
    await follow(api, reader, author);
    const posted = await post(author, 'fanned out twice');
    await eventually(async () => assert.deepEqual(await cachedFeed(reader), [posted]), 2000);

    // The unfollow commits, and its clean-up runs, while this fan-out holds the audience it read before.
    const fanOut = handler<FanOutEvent>(TIMELINE_EVENTS.fanOut, {
      async fanOutAudiences(authorIds) {
        const audiences = await socialStore.fanOutAudiences(shared.testApp.deps.database.db, authorIds, FANOUT_MAX_FOLLOWERS);
        await unfollow(api, reader, author);
        await jobsIdle(shared.testApp);
        assert.deepEqual(await cachedFeed(reader), [], 'the clean-up ran');
        return audiences;
      },
    });
    await fanOut.handle([{ postId: posted, authorId: author.user.id }]);
    assert.deepEqual(await cachedFeed(reader), []);
  });
});
