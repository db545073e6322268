import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { appPerFile } from './helpers/app.ts';
import { servicesDatabaseUrl } from './helpers/database.ts';
import { assertProblem, follow, publish, signUp, type TestSession } from './helpers/factories.ts';
import { ADMIN_EMAIL, assertLedgerHolds, grant, signUpAdmin } from './helpers/ledger.ts';
import { blobKeys, fetchBytes, mediaRowsOf, uploadAndSettle } from './helpers/media.ts';
import { imageSample } from './helpers/media-samples.ts';
import { eventually, jobsIdle } from './helpers/wait.ts';

const shared = appPerFile({ ADMIN_EMAILS: ADMIN_EMAIL });
const { api } = shared;
const as = (session: TestSession) => ({ token: session.accessToken });
let admin: Promise<TestSession> | undefined;
const operator = () => (admin ??= signUpAdmin(api));

async function funded(coins: number): Promise<TestSession> {
  const user = await signUp(api);
  await grant(api, await operator(), user, coins);
  return user;
}

/** A paid photo post by `author`, bought by each of `buyers`. */
async function soldPhotoPost(author: TestSession, buyers: TestSession[]): Promise<{ post: any; mediaId: string }> {
  const media = await uploadAndSettle(api, author.accessToken, await imageSample('png'));
  assert.equal(typeof media.thumbnailUrl, 'string', 'the sample gets a thumbnail');
  const post = await publish(api, author, { text: 'for sale', mediaIds: [media.id], priceCoins: 10 });
  for (const buyer of buyers) assert.equal((await api.post(`/v1/posts/${post.id}/purchase`, undefined, as(buyer))).status, 201);
  return { post, mediaId: media.id };
}

async function photoPost(author: TestSession, text: string): Promise<{ post: any; mediaId: string }> {
  const media = await uploadAndSettle(api, author.accessToken, await imageSample('png'));
  return { post: await publish(api, author, { text, mediaIds: [media.id], priceCoins: 10 }), mediaId: media.id };
}

const content = (mediaId: string, query = '') => `/v1/media/${mediaId}/content${query}`;

/** The buyer still gets the post, unlocked, in their library, and every byte route of its photo. */
async function assertBuyerKeeps(buyer: TestSession, postId: string, mediaId: string): Promise<any> {
  const answer = await api.get(`/v1/posts/${postId}`, as(buyer));
  assert.equal(answer.status, 200, answer.text);
  const post = answer.body;
  assert.deepEqual([post.locked, post.purchasedByMe, post.likeCount], [false, true, 0]);
  assert.equal(post.media[0].id, mediaId);
  const library = (await api.get('/v1/library', as(buyer))).body.items.map((item: any) => item.id);
  assert.ok(library.includes(postId), 'still in the library');

  const testApp = shared.testApp;
  const original = await fetchBytes(testApp, content(mediaId), { token: buyer.accessToken });
  assert.equal(original.status, 200);
  assert.ok(original.bytes.length > 10);
  assert.equal((await fetchBytes(testApp, content(mediaId, '?variant=thumbnail'), { token: buyer.accessToken })).status, 200);
  const range = await fetchBytes(testApp, content(mediaId), { token: buyer.accessToken, headers: { range: 'bytes=0-9' } });
  assert.equal(range.status, 206);
  assert.deepEqual(range.bytes, original.bytes.subarray(0, 10));
  for (const link of [post.media[0].url, post.media[0].thumbnailUrl]) {
    assert.equal(typeof link, 'string');
    assert.equal((await fetchBytes(testApp, link)).status, 200, link);
  }
  return post;
}

/** Anyone but a buyer: the post is 404, and so are its bytes (401 without a token). */
async function assertGoneFor(who: TestSession | undefined, postId: string, mediaId: string): Promise<void> {
  assertProblem(await api.get(`/v1/posts/${postId}`, who === undefined ? {} : as(who)), 404, 'not_found');
  if (who === undefined) {
    assertProblem(await api.get(content(mediaId)), 401, 'unauthorized');
    return;
  }
  assertProblem(await api.get(content(mediaId), as(who)), 404, 'not_found');
  assertProblem(await api.get(content(mediaId, '?variant=thumbnail'), as(who)), 404, 'not_found');
}

const idsOf = (page: { body: { items: { id: string }[] } }) => page.body.items.map((item) => item.id);
const postsCount = async (user: TestSession) => (await api.get(`/v1/users/${user.user.handle}`)).body.counts.posts as number;
const postRow = (id: string) => shared.testApp.deps.database.db.selectFrom('posts').select(['id', 'withdrawn_at']).where('id', '=', id).executeTakeFirst();
const deleteAccount = async (user: TestSession) =>
  assert.equal((await api.delete('/v1/account', { password: user.password }, as(user))).status, 204);

describe('a sold post its author deletes', () => {
  test('stays with its buyers only: gone from every page, feed and count, likes removed, its media kept', async () => {
    const [author, buyer, follower, stranger] = await Promise.all([signUp(api), funded(50), signUp(api), signUp(api)]);
    await follow(api, follower, author);
    const { post, mediaId } = await soldPhotoPost(author, [buyer]);
    const unsold = await photoPost(author, 'nobody bought this');
    assert.equal((await api.put(`/v1/posts/${post.id}/like`, undefined, as(follower))).status, 204);
    await eventually(async () => assert.ok(idsOf(await api.get('/v1/timelines/home', as(follower))).includes(post.id)));
    const countBefore = await postsCount(author);

    assert.equal((await api.delete(`/v1/posts/${post.id}`, undefined, as(author))).status, 204);
    assert.equal((await api.delete(`/v1/posts/${unsold.post.id}`, undefined, as(author))).status, 204);
    assert.notEqual((await postRow(post.id))?.withdrawn_at, null, 'withdrawn');
    assert.equal(await postRow(unsold.post.id), undefined, 'the unsold one is deleted');
    assert.equal(await postsCount(author), countBefore - 2);

    const kept = await assertBuyerKeeps(buyer, post.id, mediaId);
    assert.equal(kept.author.handle, author.user.handle, 'its author still has an account');
    for (const who of [stranger, follower, undefined]) await assertGoneFor(who, post.id, mediaId);
    // Its author too no longer sees the post (the photo is still theirs to read).
    assertProblem(await api.get(`/v1/posts/${post.id}`, as(author)), 404, 'not_found');
    assertProblem(await api.delete(`/v1/posts/${post.id}`, undefined, as(author)), 404, 'not_found');
    for (const who of [buyer, follower]) assertProblem(await api.put(`/v1/posts/${post.id}/like`, undefined, as(who)), 404, 'not_found');
    assertProblem(await api.get(`/v1/posts/${post.id}/likes`, as(buyer)), 404, 'not_found');
    assertProblem(await api.post(`/v1/posts/${post.id}/purchase`, undefined, as(stranger)), 404, 'not_found');
    assertProblem(await api.post(`/v1/posts/${post.id}/purchase`, undefined, as(buyer)), 409, 'already_purchased');

    for (const reader of [buyer, follower, author]) {
      assert.ok(!idsOf(await api.get(`/v1/users/${author.user.handle}/posts`, as(reader))).includes(post.id), 'not on the profile');
      assert.ok(!idsOf(await api.get('/v1/timelines/public?limit=100', as(reader))).includes(post.id), 'not on the main page');
      assert.ok(!idsOf(await api.get('/v1/timelines/home?limit=100', as(reader))).includes(post.id), 'not in home timelines');
    }
    await jobsIdle(shared.testApp);
    assert.ok(!idsOf(await api.get('/v1/timelines/home?limit=100', as(follower))).includes(post.id), 'nor once the feeds caught up');

    // The photo is the author's still, but it cannot be deleted from under its buyer; the unsold one's can.
    assertProblem(await api.delete(`/v1/media/${mediaId}`, undefined, as(author)), 409, 'media_sold');
    assert.equal((await fetchBytes(shared.testApp, content(mediaId), { token: buyer.accessToken })).status, 200);
    assert.equal((await api.delete(`/v1/media/${unsold.mediaId}`, undefined, as(author))).status, 204);
    assert.deepEqual(await blobKeys(shared.testApp, `media/${author.user.id}/${unsold.mediaId}/`), []);
    await assertLedgerHolds(shared.testApp);
  });

  test('goes for good when its last buyer deletes their account; the author may then delete its media', async () => {
    const [author, buyer] = await Promise.all([signUp(api), funded(50)]);
    const { post, mediaId } = await soldPhotoPost(author, [buyer]);
    assert.equal((await api.delete(`/v1/posts/${post.id}`, undefined, as(author))).status, 204);
    await deleteAccount(buyer);
    assert.equal(await postRow(post.id), undefined);
    // The item is still its author's, whose account exists: only the post went.
    assert.equal((await api.get(`/v1/media/${mediaId}`, as(author))).status, 200);
    assert.equal((await api.delete(`/v1/media/${mediaId}`, undefined, as(author))).status, 204);
    assert.deepEqual(await blobKeys(shared.testApp, `media/${author.user.id}/${mediaId}/`), []);
  });

  test('whose every buyer has left is deleted, not withdrawn', async () => {
    const [author, buyer] = await Promise.all([signUp(api), funded(50)]);
    const { post, mediaId } = await soldPhotoPost(author, [buyer]);
    await deleteAccount(buyer);
    assert.equal((await api.delete(`/v1/media/${mediaId}`, undefined, as(author))).status, 204, 'nobody holds its photo any more');
    assert.equal((await api.delete(`/v1/posts/${post.id}`, undefined, as(author))).status, 204);
    assert.equal(await postRow(post.id), undefined);
    await assertLedgerHolds(shared.testApp);
  });
});

describe('an author who deletes their account', () => {
  test('leaves their sold posts and bytes to the buyers, under a deleted author, until the last buyer leaves', async () => {
    const [author, firstBuyer, secondBuyer, follower] = await Promise.all([signUp(api), funded(50), funded(50), signUp(api)]);
    await follow(api, follower, author);
    const { post, mediaId } = await soldPhotoPost(author, [firstBuyer, secondBuyer]);
    const unsold = await photoPost(author, 'nobody bought this');
    const authorMedia = `media/${author.user.id}/`;
    const soldBytes = `${authorMedia}${mediaId}/`;
    assert.ok((await blobKeys(shared.testApp, `${authorMedia}${unsold.mediaId}/`)).length > 0);

    await deleteAccount(author);
    await jobsIdle(shared.testApp);
    assert.deepEqual(await blobKeys(shared.testApp, `${authorMedia}${unsold.mediaId}/`), [], "the unsold post's bytes went");
    assert.equal(await postRow(unsold.post.id), undefined);
    assert.deepEqual((await mediaRowsOf(shared.testApp, author.user.id)).map((row) => row.id), [mediaId], 'only the sold photo is kept');
    const keptKeys = await blobKeys(shared.testApp, soldBytes);
    assert.ok(keptKeys.length >= 2, 'its original and variants stay');

    for (const buyer of [firstBuyer, secondBuyer]) {
      const kept = await assertBuyerKeeps(buyer, post.id, mediaId);
      assert.equal(kept.author.handle, 'deleted-account');
      assert.equal(kept.author.name, 'Deleted account');
      assert.equal(kept.author.avatarUrl, null);
      assert.deepEqual(kept.author.counts, { followers: 0, following: 0, posts: 0 });
    }
    for (const who of [follower, undefined]) await assertGoneFor(who, post.id, mediaId);
    assertProblem(await api.get(`/v1/users/${author.user.handle}`), 404, 'not_found');
    assertProblem(await api.get('/v1/users/deleted-account'), 404, 'not_found');
    assert.ok(!idsOf(await api.get('/v1/timelines/public?limit=100', as(follower))).includes(post.id));
    assert.ok(!idsOf(await api.get('/v1/timelines/home?limit=100', as(follower))).includes(post.id));

    await deleteAccount(firstBuyer);
    await jobsIdle(shared.testApp);
    await assertBuyerKeeps(secondBuyer, post.id, mediaId);
    assert.deepEqual(await blobKeys(shared.testApp, soldBytes), keptKeys, 'a buyer remains: the bytes stay');

    await deleteAccount(secondBuyer);
    assert.equal(await postRow(post.id), undefined);
    assert.deepEqual(await mediaRowsOf(shared.testApp, author.user.id), []);
    await eventually(async () => assert.deepEqual(await blobKeys(shared.testApp, authorMedia), [], 'the last buyer left: the bytes go'));
    await assertLedgerHolds(shared.testApp);
  });

  test(
    'and its last two buyers leaving at once: the post and its bytes still go',
    { skip: servicesDatabaseUrl === undefined && 'embedded profile: one connection, so account deletions never overlap' },
    async () => {
      const [author, firstBuyer, secondBuyer] = await Promise.all([signUp(api), funded(50), funded(50)]);
      const { post } = await soldPhotoPost(author, [firstBuyer, secondBuyer]);
      await deleteAccount(author);
      // Both deletions are held at a table every one reads (post_likes) and let go together, so each
      // asks whether the other buyer remains before either commits.
      const { db } = shared.testApp.deps.database;
      const deletions: Promise<void>[] = [];
      await db.transaction().execute(async (trx) => {
        await sql`lock table post_likes in access exclusive mode`.execute(trx);
        deletions.push(deleteAccount(firstBuyer), deleteAccount(secondBuyer));
        await eventually(async () => {
          const { rows } = await sql<{ n: number }>`select count(*)::int n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
          assert.equal(rows[0]?.n, 2, 'both deletions are waiting');
        }, 10_000);
      });
      await Promise.all(deletions);
      assert.equal(await postRow(post.id), undefined);
      assert.deepEqual(await mediaRowsOf(shared.testApp, author.user.id), []);
      await eventually(async () => assert.deepEqual(await blobKeys(shared.testApp, `media/${author.user.id}/`), []));
    },
  );
});

describe('a purchase racing its post’s deletion', () => {
  test('either buys a post its buyer keeps, or is 404 and moves no coin', async () => {
    const [author, buyer] = await Promise.all([signUp(api), funded(1000)]);
    const posts = await Promise.all(Array.from({ length: 16 }, (_, n) => publish(api, author, { text: `race ${n}`, priceCoins: 10 })));
    const outcomes = await Promise.all(
      posts.map(async (post, n) => {
        const buying = api.post(`/v1/posts/${post.id}/purchase`, undefined, as(buyer));
        const deleting = api.delete(`/v1/posts/${post.id}`, undefined, as(author));
        // Half the pairs start with the deletion, so both orders are tried.
        const [bought, deleted] = n % 2 === 0 ? await Promise.all([buying, deleting]) : (await Promise.all([deleting, buying])).reverse();
        assert.equal(deleted?.status, 204, deleted?.text);
        return { post, bought: bought as Awaited<typeof buying> };
      }),
    );
    let spent = 0;
    for (const { post, bought } of outcomes) {
      const seen = await api.get(`/v1/posts/${post.id}`, as(buyer));
      if (bought.status === 201) {
        spent += 10;
        assert.equal(seen.status, 200, 'a buyer keeps what they paid for');
        assert.equal(seen.body.purchasedByMe, true);
      } else {
        assertProblem(bought, 404, 'not_found');
        assertProblem(seen, 404, 'not_found');
      }
      assertProblem(await api.get(`/v1/posts/${post.id}`), 404, 'not_found');
    }
    assert.equal((await api.get('/v1/wallet', as(buyer))).body.balance, 1000 - spent);
    assert.equal((await api.get('/v1/library', as(buyer))).body.items.length, spent / 10);
    await assertLedgerHolds(shared.testApp);
  });
});
