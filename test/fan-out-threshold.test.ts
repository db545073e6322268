import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appPerFile, startApp } from './helpers/app.ts';
import { client } from './helpers/http.ts';
import { follow, publish, signUp, unfollow, type TestSession } from './helpers/factories.ts';
import { jobsIdle } from './helpers/wait.ts';

/** Popular above 10 followers; popular no more only below 9 (a tenth less). */
const FANOUT_MAX_FOLLOWERS = 10;

const shared = appPerFile({ FANOUT_MAX_FOLLOWERS: String(FANOUT_MAX_FOLLOWERS), FEED_BACKFILL_POSTS: '3' });
const { api } = shared;

const post = async (author: TestSession, text: string) => (await publish(api, author, text)).id as string;
const fans = (count: number) => Promise.all(Array.from({ length: count }, () => signUp(api)));

/** What the reader's feed holds (Redis, or the embedded feed table): only what was fanned out or backfilled. */
async function feed(reader: TestSession): Promise<string[]> {
  await jobsIdle(shared.testApp);
  return (await shared.testApp.deps.feeds.page(reader.user.id, { limit: 100 })).postIds;
}

/** The home timeline as the reader gets it, ids newest first; its first read also builds a cached feed. */
async function home(reader: TestSession): Promise<string[]> {
  const answer = await api.get('/v1/timelines/home?limit=100', { token: reader.accessToken });
  assert.equal(answer.status, 200, answer.text);
  return answer.body.items.map((item: { id: string }) => item.id);
}

/** The author's popular mark, as the follows left it (see social's popular.ts). */
async function marked(author: TestSession): Promise<boolean> {
  const row = await shared.testApp.deps.database.db.selectFrom('users').select('popular').where('id', '=', author.user.id).executeTakeFirstOrThrow();
  return row.popular;
}

/** `who` deletes their account; asserts the 204. */
async function leave(who: TestSession): Promise<void> {
  const answer = await api.delete('/v1/account', { password: who.password }, { token: who.accessToken });
  assert.equal(answer.status, 204, answer.text);
}

/**
 * Waits for the follows' backfills. One handled after the author's next posts would copy them into
 * that follower's feed (it reads the author's newest posts when it runs), which is right, but not
 * what these tests count.
 */
const backfilled = () => jobsIdle(shared.testApp);

/** A popular author (FANOUT_MAX_FOLLOWERS + 1 followers, feeds built) and their newest posts, newest first. */
async function popularAuthor(): Promise<{ star: TestSession; followers: TestSession[]; newest: string[] }> {
  const [star, ...followers] = (await fans(FANOUT_MAX_FOLLOWERS + 2)) as TestSession[] as [TestSession, ...TestSession[]];
  for (const fan of followers) await home(fan);
  for (const fan of followers) await follow(api, fan, star);
  await backfilled();
  await post(star, 'older than the backfill');
  const newest = [await post(star, 'one'), await post(star, 'two'), await post(star, 'three')].reverse();
  return { star, followers, newest };
}

describe('authors around FANOUT_MAX_FOLLOWERS', () => {
  test('one whose followers delete their accounts, down below the lower mark, has their posts caught up as after unfollows', async () => {
    const { star, followers, newest } = await popularAuthor();
    const [reader, ...others] = followers as [TestSession, ...TestSession[]];
    await leave(others[0]!);
    await leave(others[1]!);
    assert.equal(await marked(star), true, 'still popular at 9 followers');
    assert.deepEqual(await feed(reader), [], 'no catch-up while between the marks');
    await leave(others[2]!);
    assert.equal(await marked(star), false, 'popular no more at 8');
    assert.deepEqual(await feed(reader), newest, 'the latest FEED_BACKFILL_POSTS posts caught up');
    assert.deepEqual(await home(reader), newest);
  });

  test('one above the line but never marked (as migration 0011 left them) is marked on the way down, then caught up', async () => {
    const { star, followers, newest } = await popularAuthor();
    const [reader, ...others] = followers as [TestSession, ...TestSession[]];
    await shared.testApp.deps.database.db.updateTable('users').set({ popular: false }).where('id', '=', star.user.id).execute();
    assert.deepEqual((await home(reader)).slice(0, 3), newest, 'popular by their count alone: merged when read');
    assert.deepEqual(await feed(reader), [], 'and not fanned out');
    await leave(others[0]!);
    assert.equal(await marked(star), true, 'marked as they fall to the line (10)');
    await unfollow(api, others[1]!, star);
    await leave(others[2]!);
    assert.equal(await marked(star), false, 'popular no more at 8');
    assert.deepEqual(await feed(reader), newest, 'caught up');
  });


  test('one who drops below the lower mark has what they wrote while popular caught up into followers’ feeds; hovering between the marks changes nothing', async () => {
    const [star, ...followers] = await fans(FANOUT_MAX_FOLLOWERS + 2);
    const [reader, ...others] = followers as [TestSession, ...TestSession[]];
    for (const fan of followers) await home(fan);
    for (const fan of followers) await follow(api, fan, star!);
    await backfilled();
    assert.equal(await marked(star!), true, 'popular with 11 followers');
    const older = await post(star!, 'older, while popular');
    const newest = [await post(star!, 'one while popular'), await post(star!, 'two while popular'), await post(star!, 'three while popular')].reverse();
    assert.deepEqual(await feed(reader), [], 'popular: not fanned out');
    assert.deepEqual(await home(reader), [...newest, older], 'merged in when read');

    // Down to 9, up to 10, down to 9: between the marks, still popular, nothing caught up.
    await unfollow(api, others[0]!, star!);
    await unfollow(api, others[1]!, star!);
    await follow(api, others[1]!, star!);
    await unfollow(api, others[1]!, star!);
    assert.equal(await marked(star!), true, 'still popular at 9 followers');
    assert.deepEqual(await feed(reader), [], 'no catch-up while hovering');

    await unfollow(api, others[2]!, star!);
    assert.equal(await marked(star!), false, 'popular no more at 8');
    assert.deepEqual(await feed(reader), newest, 'the latest FEED_BACKFILL_POSTS posts caught up');
    for (const fan of others.slice(3)) assert.deepEqual(await feed(fan), newest);
    assert.deepEqual(await feed(others[0]!), [], 'not into the feed of one who left');
    assert.deepEqual(await home(reader), newest, 'the timeline keeps them (older ones than the backfill stay on the author’s page)');

    // Back up to 10: between the marks from below, so not popular, and fanned out.
    await follow(api, others[0]!, star!);
    await follow(api, others[1]!, star!);
    assert.equal(await marked(star!), false, 'not popular again at 10');
    const fannedOut = await post(star!, 'fanned out');
    assert.equal((await feed(reader))[0], fannedOut);
  });

  test('a burst of posts by several authors lands in the right feeds, and not in those of a popular author’s followers', async () => {
    const [quiet, busy, star, both, busyOnly, starOnly] = (await fans(6)) as TestSession[] as [TestSession, TestSession, TestSession, TestSession, TestSession, TestSession];
    for (const reader of [both, busyOnly, starOnly]) await home(reader);
    await follow(api, both, quiet);
    await follow(api, both, busy);
    await follow(api, busyOnly, busy);
    await follow(api, both, star);
    await follow(api, starOnly, star);
    for (const fan of await fans(FANOUT_MAX_FOLLOWERS)) await follow(api, fan, star);
    await jobsIdle(shared.testApp);

    const posted = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const author = [quiet, busy, busy, star][i % 4]!;
        return { author, id: await post(author, `burst ${i}`) };
      }),
    );
    const newestFirst = (authors: TestSession[]) => posted.filter((p) => authors.includes(p.author)).map((p) => p.id).sort().reverse();
    assert.deepEqual(await feed(both), newestFirst([quiet, busy]));
    assert.deepEqual(await feed(busyOnly), newestFirst([busy]));
    assert.deepEqual(await feed(starOnly), [], 'the popular author’s posts are not fanned out');
    assert.deepEqual((await home(starOnly)).slice(0, 10), newestFirst([star]).slice(0, 10), 'they are merged in when read');
  });

  test('at start-up the marks follow FANOUT_MAX_FOLLOWERS as configured: one never marked above it is marked, one marked below its lower mark is caught up', async () => {
    let testApp = await startApp({ FANOUT_MAX_FOLLOWERS: String(FANOUT_MAX_FOLLOWERS), FEED_BACKFILL_POSTS: '3' });
    try {
      const own = client(testApp);
      const users = await Promise.all(Array.from({ length: FANOUT_MAX_FOLLOWERS + 3 }, () => signUp(own)));
      const [star, faded, reader, ...others] = users as [TestSession, TestSession, TestSession, ...TestSession[]];
      for (const fan of [reader, ...others]) await follow(own, fan, star);
      await follow(own, reader, faded);
      await own.get('/v1/timelines/home', { token: reader.accessToken }); // builds a cached feed
      const db = () => testApp.deps.database.db;
      // As migration 0011 left a user counted before it, and as a higher FANOUT_MAX_FOLLOWERS leaves one marked under the old.
      await db().updateTable('users').set({ popular: false }).where('id', '=', star.user.id).execute();
      await db().updateTable('users').set({ popular: true }).where('id', '=', faded.user.id).execute();
      const fadedPosts = [await publish(own, faded, 'while popular'), await publish(own, faded, 'still popular')].map((p) => p.id as string).reverse();
      await jobsIdle(testApp);
      assert.deepEqual((await testApp.deps.feeds.page(reader.user.id, { limit: 10 })).postIds, [], 'not fanned out while marked');

      testApp = await testApp.restart();
      const markOf = async (who: TestSession) => (await db().selectFrom('users').select('popular').where('id', '=', who.user.id).executeTakeFirstOrThrow()).popular;
      assert.equal(await markOf(star), true, 'marked: above the line');
      assert.equal(await markOf(faded), false, 'unmarked: below the lower mark');
      await jobsIdle(testApp);
      assert.deepEqual((await testApp.deps.feeds.page(reader.user.id, { limit: 10 })).postIds, fadedPosts, 'caught up');
    } finally {
      await testApp.close();
    }
  });
});
