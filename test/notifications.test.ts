import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appPerFile } from './helpers/app.ts';
import { assertProblem, follow, publish, signUp, unfollow, type TestSession } from './helpers/factories.ts';
import { ADMIN_EMAIL, grant, signUpAdmin } from './helpers/ledger.ts';
import { jobsIdle } from './helpers/wait.ts';

const shared = appPerFile({ ADMIN_EMAILS: ADMIN_EMAIL });
const { api } = shared;
const as = (session: TestSession) => ({ token: session.accessToken });
let admin: Promise<TestSession> | undefined;
const operator = () => (admin ??= signUpAdmin(api));

/** Once every outbox event is handled: notifications are made after the causing write commits. */
const settled = () => jobsIdle(shared.testApp);

/** Every one of the user's notifications (or only unread ones), newest first, read page by page. */
async function notificationsOf(session: TestSession, options: { unread?: boolean; limit?: number } = {}): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=${options.limit ?? 100}${options.unread ? '&unread=true' : ''}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const answer = await api.get(`/v1/notifications?${query}`, as(session));
    assert.equal(answer.status, 200, answer.text);
    items.push(...answer.body.items);
    cursor = answer.body.nextCursor;
  } while (cursor !== null);
  return items;
}

/** What each notification is, in short: type, actor's handle, post id. */
const summaries = async (session: TestSession) =>
  (await notificationsOf(session)).map((item) => [item.type, item.actor.handle, item.post?.id ?? null].join(' '));

const unreadCount = async (session: TestSession): Promise<number> => {
  const answer = await api.get('/v1/notifications/unread-count', as(session));
  assert.equal(answer.status, 200, answer.text);
  return answer.body.count;
};

const followWith = async (who: TestSession, whom: TestSession, body: unknown) => {
  const answer = await api.put(`/v1/users/${whom.user.handle}/follow`, body, as(who));
  assert.equal(answer.status, 204, answer.text);
};
const like = async (who: TestSession, postId: string, method: 'PUT' | 'DELETE' = 'PUT') =>
  assert.equal((await api.call(method, `/v1/posts/${postId}/like`, as(who))).status, 204);
const markRead = async (who: TestSession, body?: unknown) => assert.equal((await api.post('/v1/notifications/read', body, as(who))).status, 204);

describe('notifications', () => {
  test('a follow, a like, a purchase and a new post each reach the one concerned, after the write commits', async () => {
    const [author, fan] = await Promise.all([signUp(api), signUp(api)]);
    await grant(api, await operator(), fan, 50);
    await followWith(fan, author, { notify: true });
    await settled();
    const [followed] = await notificationsOf(author);
    assert.deepEqual([followed.type, followed.actor.id, followed.post, followed.read], ['follow', fan.user.id, undefined, false]);
    assert.equal(typeof followed.id, 'string');
    assert.ok(!Number.isNaN(Date.parse(followed.createdAt)));
    assert.equal(followed.actor.followedByMe, false, 'the actor as the recipient sees them');

    const post = await publish(api, author, 'fresh from the darkroom');
    const paid = await publish(api, author, { text: 'the print', priceCoins: 20 });
    await like(fan, post.id);
    await settled();
    assert.equal((await api.post(`/v1/posts/${paid.id}/purchase`, undefined, as(fan))).status, 201);
    await settled();
    assert.deepEqual(await summaries(author), [
      `purchase ${fan.user.handle} ${paid.id}`,
      `like ${fan.user.handle} ${post.id}`,
      `follow ${fan.user.handle} `,
    ]);
    const [sale] = await notificationsOf(author);
    assert.deepEqual(sale.post, { id: paid.id, text: 'the print' });
    assert.deepEqual(await summaries(fan), [`new_post ${author.user.handle} ${paid.id}`, `new_post ${author.user.handle} ${post.id}`]);
    assert.equal((await notificationsOf(fan))[1].post.text, 'fresh from the darkroom');
  });

  test('never tell you of what you did yourself', async () => {
    const [me, fan] = await Promise.all([signUp(api), signUp(api)]);
    await followWith(fan, me, { notify: true });
    await followWith(me, fan, { notify: true });
    await settled();
    const post = await publish(api, me, 'mine');
    await like(me, post.id);
    await settled();
    assert.deepEqual(await summaries(me), [`follow ${fan.user.handle} `]);
    assert.deepEqual(await summaries(fan), [`new_post ${me.user.handle} ${post.id}`, `follow ${me.user.handle} `]);
  });

  test('one per liker and post, however often they like and take it back; an unread one goes with its like', async () => {
    const [author, fan] = await Promise.all([signUp(api), signUp(api)]);
    const post = await publish(api, author, 'liked and unliked');
    await like(fan, post.id);
    await like(fan, post.id, 'DELETE');
    await like(fan, post.id);
    await like(fan, post.id);
    await settled();
    assert.deepEqual(await summaries(author), [`like ${fan.user.handle} ${post.id}`]);

    await like(fan, post.id, 'DELETE');
    await settled();
    assert.deepEqual(await summaries(author), [], 'unread, it went with the like');

    await like(fan, post.id);
    await settled();
    await markRead(author);
    await like(fan, post.id, 'DELETE');
    await like(fan, post.id);
    await settled();
    const items = await notificationsOf(author);
    assert.deepEqual(items.map((item) => [item.type, item.read]), [['like', true]], 'read, it stays, and a like again adds none');
  });

  test('an unfollow takes its unread follow notification, and the followee’s new posts, away', async () => {
    const [author, fan, reader] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, reader, author);
    await settled();
    await followWith(fan, author, { notify: true });
    await settled();
    const post = await publish(api, author, { text: 'for followers', visibility: 'followers' });
    await settled();
    assert.equal((await notificationsOf(fan)).length, 1);
    await markRead(author, { upTo: (await notificationsOf(author)).find((item) => item.actor.id === reader.user.id).id });
    await Promise.all([unfollow(api, fan, author), unfollow(api, reader, author)]);
    await settled();
    assert.deepEqual(await summaries(fan), [], `no more of ${post.id}`);
    assert.deepEqual(await summaries(author), [`follow ${reader.user.handle} `], 'the read one stays');
  });

  test('notify turns new-post notifications on and off; an absent body leaves it as it was; notifyingMe shows it', async () => {
    const [author, fan, other] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    const seen = async () => (await api.get(`/v1/users/${author.user.handle}`, as(fan))).body;
    await follow(api, fan, author);
    assert.deepEqual([(await seen()).followedByMe, (await seen()).notifyingMe], [true, false], 'a new follow without a body does not notify');
    await followWith(fan, author, { notify: true });
    assert.equal((await seen()).notifyingMe, true);
    await follow(api, fan, author);
    assert.equal((await seen()).notifyingMe, true, 'no body: unchanged');
    await followWith(fan, author, {});
    assert.equal((await seen()).notifyingMe, true, 'no notify: unchanged');
    const heard = await publish(api, author, 'heard');
    await settled();
    await followWith(fan, author, { notify: false });
    assert.deepEqual([(await seen()).followedByMe, (await seen()).notifyingMe], [true, false]);
    await publish(api, author, 'not heard');
    await settled();
    assert.deepEqual(await summaries(fan), [`new_post ${author.user.handle} ${heard.id}`]);

    await followWith(other, author, { notify: true });
    const followers = (await api.get(`/v1/users/${fan.user.handle}/following`, as(other))).body.items;
    assert.deepEqual(followers.map((user: any) => [user.id, user.followedByMe, user.notifyingMe]), [[author.user.id, true, true]]);
    assert.equal((await api.get(`/v1/users/${author.user.handle}`)).body.notifyingMe, undefined, 'not for anonymous callers');
    await unfollow(api, other, author);
    assert.deepEqual([(await api.get(`/v1/users/${author.user.handle}`, as(other))).body.notifyingMe], [false]);
  });

  test('read up to an id, the unread count, unread=true and pages', async () => {
    const star = await signUp(api);
    const fans = await Promise.all(Array.from({ length: 7 }, () => signUp(api)));
    for (const fan of fans) await follow(api, fan, star);
    await settled();
    const all = await notificationsOf(star, { limit: 3 });
    assert.deepEqual(all.map((item) => item.actor.id), fans.map((fan) => fan.user.id).reverse(), 'newest first, each once across pages');
    assert.equal(await unreadCount(star), 7);

    await markRead(star, { upTo: all[4].id });
    assert.equal(await unreadCount(star), 4);
    const unread = await notificationsOf(star, { unread: true, limit: 2 });
    assert.deepEqual(unread.map((item) => item.id), all.slice(0, 4).map((item) => item.id));
    assert.deepEqual((await notificationsOf(star)).map((item) => item.read), [false, false, false, false, true, true, true]);

    await markRead(star, {});
    assert.equal(await unreadCount(star), 0);
    assert.deepEqual(await notificationsOf(star, { unread: true }), []);
    await markRead(star);
    assert.equal((await notificationsOf(star)).length, 7, 'marking read removes nothing');
  });

  test("no one reads or marks another user's notifications", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, bob, alice);
    await follow(api, carol, bob);
    await settled();
    const [hers] = await notificationsOf(alice);
    assert.deepEqual(await summaries(bob), [`follow ${carol.user.handle} `]);
    await markRead(bob, { upTo: hers.id });
    await markRead(bob);
    assert.deepEqual([await unreadCount(alice), (await notificationsOf(alice))[0].read], [1, false], "Bob's marks touch only his own");
    assert.deepEqual(await notificationsOf(carol), []);
  });

  test('a locked followers-only post shows its text as the post shows it to the recipient, and no link to its media', async () => {
    const [author, fan] = await Promise.all([signUp(api), signUp(api)]);
    await followWith(fan, author, { notify: true });
    const locked = await publish(api, author, { text: 'behind the paywall', priceCoins: 5, visibility: 'followers' });
    await settled();
    const asPost = (await api.get(`/v1/posts/${locked.id}`, as(fan))).body;
    assert.equal(asPost.locked, true);
    const [notice] = await notificationsOf(fan);
    assert.deepEqual(notice.post, { id: locked.id, text: asPost.text });
    assert.equal(JSON.stringify(notice).includes('/content'), false, 'no link to the bytes');
  });

  test('a deleted or withdrawn post and a deleted account take their notifications with them', async () => {
    const [author, fan, buyer] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await grant(api, await operator(), buyer, 50);
    await followWith(fan, author, { notify: true });
    const doomed = await publish(api, author, 'soon deleted');
    const sold = await publish(api, author, { text: 'sold, then withdrawn', priceCoins: 10 });
    await like(fan, doomed.id);
    await like(fan, sold.id);
    assert.equal((await api.post(`/v1/posts/${sold.id}/purchase`, undefined, as(buyer))).status, 201);
    await settled();
    await markRead(author);
    await markRead(fan);
    assert.equal((await notificationsOf(author)).length, 4);

    assert.equal((await api.delete(`/v1/posts/${doomed.id}`, undefined, as(author))).status, 204);
    assert.equal((await api.delete(`/v1/posts/${sold.id}`, undefined, as(author))).status, 204);
    assert.equal((await api.get(`/v1/posts/${sold.id}`, as(buyer))).status, 200, 'withdrawn: its buyer still reads it');
    await settled();
    assert.deepEqual(await summaries(author), [`follow ${fan.user.handle} `], 'read or not, none names a post gone');
    assert.deepEqual(await summaries(fan), []);

    const later = await publish(api, author, 'after');
    await like(fan, later.id);
    await followWith(author, fan, {});
    await settled();
    assert.equal((await notificationsOf(fan)).length, 2);
    assert.equal((await api.delete('/v1/account', { password: fan.password }, as(fan))).status, 204);
    await settled();
    assert.deepEqual(await summaries(author), [], "the deleted user's notifications, sent and received, are gone");
    assert.equal(await unreadCount(author), 0);
  });

  test('bad input is a 400, a missing token a 401', async () => {
    const user = await signUp(api);
    const other = await signUp(api);
    for (const query of ['cursor=not-a-cursor', `cursor=${Buffer.from('[1]').toString('base64url')}`, 'unread=maybe', 'limit=0', 'limit=101', 'limit=x', 'sort=old']) {
      assertProblem(await api.get(`/v1/notifications?${query}`, as(user)), 400, 'invalid_request');
    }
    for (const body of [{ upTo: 'nope' }, { upTo: 42 }, { upTo: null }, { upTo: ['01J0000000000000000000000A'] }, { all: true }, [], 'x']) {
      assertProblem(await api.post('/v1/notifications/read', body, as(user)), 400, 'invalid_request');
    }
    for (const body of [{ notify: 'yes' }, { notify: 1 }, { notify: true, extra: 1 }, []]) {
      assertProblem(await api.put(`/v1/users/${other.user.handle}/follow`, body, as(user)), 400, 'invalid_request');
    }
    assertProblem(await api.get('/v1/notifications'), 401, 'unauthorized');
    assertProblem(await api.post('/v1/notifications/read', {}), 401, 'unauthorized');
    assertProblem(await api.get('/v1/notifications/unread-count'), 401, 'unauthorized');
  });
});
