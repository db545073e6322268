import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { assertProblem, signUp } from './helpers/factories.ts';
import { client } from './helpers/http.ts';

/**
 * Two instances of one deployment (one database, one Redis and key prefix) share the auth rate
 * limits: attempts are counted wherever they land. Services run only: without REDIS_URL each
 * instance counts its own.
 */
describe('auth rate limits across instances', { skip: !process.env.REDIS_URL && 'services run only (REDIS_URL)' }, () => {
  const limits = { LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '4' };
  let first: TestApp;
  let second: TestApp;
  before(async () => {
    first = await startApp(limits);
    const { databaseUrl, redisPrefix } = first.config;
    assert.ok(databaseUrl !== undefined, 'the services run has DATABASE_URL');
    second = await startApp({ ...limits, DATABASE_URL: databaseUrl, REDIS_PREFIX: redisPrefix });
  });
  // The second instance first: the first one's close drops the database they share.
  after(async () => {
    await second?.close();
    await first?.close();
  });

  it('counts sign-in attempts made on either instance against one budget', async () => {
    const [one, two] = [client(first), client(second)];
    const owner = await signUp(one);
    const guess = (api: typeof one, i: number) => api.post('/v1/auth/login', { email: owner.user.email, password: `guess-${i}` });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await guess(i % 2 === 0 ? one : two, i)).status);
    assert.deepEqual(statuses, [401, 401, 401, 401], 'two guesses on each instance, four in all');

    // Each instance alone has seen two of its four: only a shared count refuses these.
    const refused = await guess(one, 4);
    assertProblem(refused, 429, 'rate_limited');
    const wait = Number(refused.headers.get('retry-after'));
    assert.ok(wait > 0 && wait <= 900, `Retry-After ${wait} within the 900 s window`);
    assertProblem(await two.post('/v1/auth/login', { email: owner.user.email, password: owner.password }), 429, 'rate_limited');

    // Another account's budget is its own, on both instances.
    const other = await signUp(two);
    assert.equal((await one.post('/v1/auth/login', { email: other.user.email, password: other.password })).status, 200);
  });
});
