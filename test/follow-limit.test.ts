import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';

/** FOLLOW_MAX caps whom one account follows: the home page read from the follow graph costs one index range per followee. */
const FOLLOW_MAX = 3;

let testApp: TestApp;
let api: Client;

before(async () => {
  testApp = await startApp({ FOLLOW_MAX: String(FOLLOW_MAX) });
  api = client(testApp);
});
after(() => testApp.close());

const follow = (who: TestSession, whom: TestSession) => api.call('PUT', `/v1/users/${whom.user.handle}/follow`, { token: who.accessToken });
const unfollow = (who: TestSession, whom: TestSession) => api.call('DELETE', `/v1/users/${whom.user.handle}/follow`, { token: who.accessToken });
const countsOf = async (session: TestSession) => (await api.get(`/v1/users/${session.user.handle}`)).body.counts;
const signUpMany = (count: number) => Promise.all(Array.from({ length: count }, () => signUp(api)));

async function followingIds(session: TestSession): Promise<string[]> {
  const answer = await api.get(`/v1/users/${session.user.handle}/following?limit=100`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body.items.map((user: { id: string }) => user.id);
}

test('following past FOLLOW_MAX is refused with 409 follow_limit, and unfollowing makes room', async () => {
  const [fan, stars] = await Promise.all([signUp(api), signUpMany(FOLLOW_MAX + 2)]);
  const [extra, another] = stars.slice(FOLLOW_MAX) as [TestSession, TestSession];
  for (const star of stars.slice(0, FOLLOW_MAX)) assert.equal((await follow(fan, star)).status, 204);

  const refused = await follow(fan, extra);
  assertProblem(refused, 409, 'follow_limit');
  assert.equal(refused.body.limit, FOLLOW_MAX);
  assert.equal((await countsOf(fan)).following, FOLLOW_MAX);
  assert.equal((await countsOf(extra)).followers, 0, 'the refused follow moved no counter');
  assert.ok(!(await followingIds(fan)).includes(extra.user.id), 'and left no row');

  assert.equal((await follow(fan, stars[0]!)).status, 204, 'following someone already followed stays idempotent at the cap');
  assert.equal((await unfollow(fan, stars[0]!)).status, 204);
  assert.equal((await follow(fan, another)).status, 204, 'an unfollow makes room for one');
  assertProblem(await follow(fan, extra), 409, 'follow_limit');
  assert.equal((await countsOf(fan)).following, FOLLOW_MAX);
});

test('concurrent follows at the limit: exactly the room left is taken, counters exact', async () => {
  const [fan, stars] = await Promise.all([signUp(api), signUpMany(FOLLOW_MAX + 7)]);
  assert.equal((await follow(fan, stars[0]!)).status, 204);
  const answers = await Promise.all(stars.slice(1).map((star) => follow(fan, star)));

  const accepted = answers.filter((answer) => answer.status === 204).length;
  assert.equal(accepted, FOLLOW_MAX - 1, answers.map((answer) => answer.status).join(' '));
  for (const answer of answers.filter((answer) => answer.status !== 204)) assertProblem(answer, 409, 'follow_limit');
  assert.equal((await countsOf(fan)).following, FOLLOW_MAX);
  const followed = await followingIds(fan);
  assert.equal(followed.length, FOLLOW_MAX);
  const followerCounts = await Promise.all(stars.map(async (star) => (await countsOf(star)).followers));
  assert.deepEqual(
    stars.filter((_, index) => followerCounts[index] === 1).map((star) => star.user.id).sort(),
    [...followed].sort(),
    'exactly the followed have a follower',
  );
});

test('users following each other at the same moment all succeed (the two counter rows are locked in one order)', async () => {
  const users = await signUpMany(8);
  const pairs = users.flatMap((a, i) => users.slice(i + 1).map((b) => [a, b] as const));
  const answers = await Promise.all(pairs.flatMap(([a, b]) => [follow(a, b), follow(b, a)]));
  assert.ok(answers.every((answer) => answer.status === 204 || answer.status === 409), answers.map((answer) => answer.status).join(' '));
  let [following, followers] = [0, 0];
  for (const user of users) {
    const counts = await countsOf(user);
    assert.equal(counts.following, (await followingIds(user)).length);
    assert.ok(counts.following <= FOLLOW_MAX);
    [following, followers] = [following + counts.following, followers + counts.followers];
  }
  assert.equal(followers, following, 'every follow counted on both sides');
  assert.equal(following, answers.filter((answer) => answer.status === 204).length);
});
