import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { appPerFile } from './helpers/app.ts';
import { assertProblem, follow, publish, signUp, unfollow, type TestSession } from './helpers/factories.ts';
import type { Answer } from './helpers/http.ts';

const { api } = appPerFile();
let alice: TestSession;
let bob: TestSession;

before(async () => {
  [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
});

const countsOf = async (session: TestSession) => (await api.get(`/v1/users/${session.user.handle}`)).body.counts;

async function allPages(path: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const answer: Answer = await api.get(`${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(answer.status, 200, answer.text);
    ids.push(...answer.body.items.map((user: { id: string }) => user.id));
    cursor = answer.body.nextCursor;
  } while (cursor !== null);
  return ids;
}

describe('follows', () => {
  test('are idempotent, with exact counters under concurrency', async () => {
    const star = await signUp(api);
    const fans = await Promise.all(Array.from({ length: 40 }, () => signUp(api)));
    await Promise.all(fans.flatMap((fan) => [follow(api, fan, star), follow(api, fan, star)]));
    assert.equal((await countsOf(star)).followers, 40);
    assert.equal((await countsOf(fans[0]!)).following, 1);

    const followers = await allPages(`/v1/users/${star.user.handle}/followers`, 7);
    assert.deepEqual([...followers].sort(), fans.map((fan) => fan.user.id).sort(), 'every follower once');
    assert.deepEqual(await allPages(`/v1/users/${fans[0]!.user.handle}/following`, 5), [star.user.id]);

    await Promise.all(fans.slice(0, 10).flatMap((fan) => [unfollow(api, fan, star), unfollow(api, fan, star)]));
    assert.equal((await countsOf(star)).followers, 30);
    assert.equal((await countsOf(fans[0]!)).following, 0);
  });

  test('tell a signed-in viewer whom they follow (followedByMe), on profiles and in lists', async () => {
    const [viewer, followed, other] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, viewer, followed);
    await follow(api, other, followed);
    await follow(api, followed, viewer);
    assert.equal((await api.get(`/v1/users/${followed.user.handle}`, { token: viewer.accessToken })).body.followedByMe, true);
    assert.equal((await api.get(`/v1/users/${other.user.handle}`, { token: viewer.accessToken })).body.followedByMe, false);
    assert.equal((await api.get(`/v1/users/${followed.user.handle}`)).body.followedByMe, undefined, 'not for anonymous callers');
    const followers = (await api.get(`/v1/users/${followed.user.handle}/followers`, { token: viewer.accessToken })).body.items;
    const flags = Object.fromEntries(followers.map((user: { id: string; followedByMe: boolean }) => [user.id, user.followedByMe]));
    assert.deepEqual(flags, { [viewer.user.id]: false, [other.user.id]: false });
    const following = (await api.get(`/v1/users/${followed.user.handle}/following`, { token: viewer.accessToken })).body.items;
    assert.deepEqual(following.map((user: { followedByMe: boolean }) => user.followedByMe), [false], 'the viewer themself');
    const bobsFollowing = (await api.get(`/v1/users/${viewer.user.handle}/following`, { token: other.accessToken })).body.items;
    assert.deepEqual(bobsFollowing.map((user: { followedByMe: boolean }) => user.followedByMe), [true]);
  });

  test('refuses following yourself, unknown users and anonymous callers', async () => {
    const asAlice = { token: alice.accessToken };
    assertProblem(await api.call('PUT', `/v1/users/${alice.user.handle}/follow`, asAlice), 400, 'invalid_request');
    assertProblem(await api.call('PUT', '/v1/users/nobody_here_at_all/follow', asAlice), 404, 'not_found');
    assertProblem(await api.call('PUT', `/v1/users/${bob.user.handle}/follow`), 401, 'unauthorized');
    assertProblem(await api.get('/v1/users/nobody_here_at_all/followers'), 404, 'not_found');
    assertProblem(await api.get(`/v1/users/${bob.user.handle}/followers?cursor=nope`), 400, 'invalid_request');
    assert.deepEqual(await countsOf(alice), { followers: 0, following: 0, posts: 0 });
  });

  test("open a followers-only post to followers, and close it again on unfollow", async () => {
    const author = await signUp(api);
    const reader = await signUp(api);
    const created = await publish(api, author, { text: 'for my followers', visibility: 'followers' });
    const read = () => api.get(`/v1/posts/${created.id}`, { token: reader.accessToken });
    const listed = async () =>
      (await api.get(`/v1/users/${author.user.handle}/posts`, { token: reader.accessToken })).body.items.map((post: { id: string }) => post.id);

    assertProblem(await read(), 404, 'not_found');
    assert.deepEqual(await listed(), []);
    await follow(api, reader, author);
    assert.equal((await read()).status, 200);
    assert.deepEqual(await listed(), [created.id]);
    assert.equal((await api.call('PUT', `/v1/posts/${created.id}/like`, { token: reader.accessToken })).status, 204);
    await unfollow(api, reader, author);
    assertProblem(await read(), 404, 'not_found');
    const publicPage = (await api.get('/v1/timelines/public?limit=100')).body.items.map((post: { id: string }) => post.id);
    assert.ok(!publicPage.includes(created.id), 'never on the public page');
  });

  test('go with a deleted account, counters included', async () => {
    const leaving = await signUp(api);
    await follow(api, leaving, bob);
    await follow(api, bob, leaving);
    const liked = await publish(api, bob, 'liked by someone leaving');
    await api.call('PUT', `/v1/posts/${liked.id}/like`, { token: leaving.accessToken });
    const before = await countsOf(bob);
    assert.equal((await api.delete('/v1/account', { password: leaving.password }, { token: leaving.accessToken })).status, 204);
    assert.deepEqual(await allPages(`/v1/users/${bob.user.handle}/followers`, 10), []);
    assert.deepEqual(await allPages(`/v1/users/${bob.user.handle}/following`, 10), []);
    assert.deepEqual(await countsOf(bob), { ...before, followers: before.followers - 1, following: before.following - 1 });
    assert.equal((await api.get(`/v1/posts/${liked.id}`)).body.likeCount, 0);
  });
});
