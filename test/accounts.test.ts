import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp } from './helpers/factories.ts';

let testApp: TestApp;
let api: Client;

before(async () => {
  testApp = await startApp();
  api = client(testApp);
});
after(() => testApp.close());

describe('account', () => {
  it('shows your own account with email and providers', async () => {
    const session = await signUp(api);
    const answer = await api.get('/v1/account', { token: session.accessToken });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.email, session.user.email);
    assert.deepEqual(answer.body.providers, ['password']);
    assert.match(answer.body.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('edits name, bio and handle, alone or together', async () => {
    const session = await signUp(api);
    const token = session.accessToken;
    const renamed = await api.patch('/v1/account', { name: '  Zoë 🎧  ' }, { token });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'Zoë 🎧');
    const all = await api.patch('/v1/account', { bio: 'Records birds. Ω ≈ ç √', handle: 'zoe_birds' }, { token });
    assert.equal(all.body.bio, 'Records birds. Ω ≈ ç √');
    assert.equal(all.body.handle, 'zoe_birds');
    assert.equal(all.body.name, 'Zoë 🎧');
    const nothing = await api.patch('/v1/account', {}, { token });
    assert.equal(nothing.status, 200);
    assert.equal(nothing.body.handle, 'zoe_birds');
  });

  it('refuses a handle someone else has, and bad values, changing nothing', async () => {
    const owner = await signUp(api, { handle: 'owned_handle' });
    const session = await signUp(api);
    const token = session.accessToken;
    assertProblem(await api.patch('/v1/account', { handle: 'owned_handle' }, { token }), 409, 'handle_taken');
    for (const body of [
      { bio: 'b'.repeat(161) },
      { name: '' },
      { name: 42 },
      { handle: 'no spaces' },
      { handle: 'x'.repeat(31) },
      { email: 'new@example.test' },
      { name: 'ok', counts: { followers: 1_000_000 } },
    ]) {
      assertProblem(await api.patch('/v1/account', body, { token }), 400, 'invalid_request');
    }
    const unchanged = await api.get('/v1/account', { token });
    assert.equal(unchanged.body.handle, session.user.handle);
    assert.equal(unchanged.body.name, session.user.name);
    assert.equal(unchanged.body.counts.followers, 0);
    assert.equal((await api.get(`/v1/users/${owner.user.handle}`)).body.id, owner.user.id);
  });

  it('stores SQL-looking text verbatim', async () => {
    const session = await signUp(api);
    const bio = "'); DROP TABLE users; -- \\ % _";
    const answer = await api.patch('/v1/account', { bio }, { token: session.accessToken });
    assert.equal(answer.body.bio, bio);
    assert.equal((await api.get(`/v1/users/${session.user.handle}`)).body.bio, bio);
  });
});

describe('public profiles', () => {
  it('shows a user by handle, without private fields', async () => {
    const session = await signUp(api, { handle: 'public_pat' });
    const answer = await api.get('/v1/users/public_pat');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.id, session.user.id);
    assert.equal(answer.body.email, undefined);
    assert.equal(answer.body.providers, undefined);
    assert.deepEqual(Object.keys(answer.body).sort(), ['avatarUrl', 'bio', 'counts', 'createdAt', 'handle', 'id', 'name']);
    assert.equal((await api.get('/v1/users/PUBLIC_PAT')).body.id, session.user.id, 'handles ignore case');
  });

  it('answers 404 for unknown or odd handles', async () => {
    for (const handle of ['nobody_here', '%2e%2e%2fetc', '..%2f..%2fetc%2fpasswd', encodeURIComponent('\u202Eevil')]) {
      assertProblem(await api.get(`/v1/users/${handle}`), 404, 'not_found');
    }
    assertProblem(await api.get('/v1/users/a%00b'), 400, 'invalid_request');
    assertProblem(await api.get('/v1/users/%E0%A4%A'), 400, 'invalid_request');
    assertProblem(await api.get(`/v1/users/${'h'.repeat(9000)}`), 414, 'uri_too_long');
  });
});

describe('account deletion', () => {
  it('needs the password', async () => {
    const session = await signUp(api);
    assertProblem(await api.delete('/v1/account', { password: 'wrong' }, { token: session.accessToken }), 403, 'invalid_credentials');
    assertProblem(await api.delete('/v1/account', undefined, { token: session.accessToken }), 400, 'invalid_request');
    assert.equal((await api.get('/v1/account', { token: session.accessToken })).status, 200);
  });

  it('limits password guesses per session, with 429 and Retry-After, leaving the account in place', async () => {
    const session = await signUp(api);
    const token = session.accessToken;
    for (let i = 0; i < 10; i++) {
      assertProblem(await api.delete('/v1/account', { password: `guess-${i}` }, { token }), 403, 'invalid_credentials');
    }
    const limited = await api.delete('/v1/account', { password: session.password }, { token });
    assertProblem(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal((await api.get('/v1/account', { token })).status, 200);
    const bystander = await signUp(api);
    assert.equal((await api.delete('/v1/account', { password: bystander.password }, { token: bystander.accessToken })).status, 204);
  });

  it('removes the account, its sessions and its memos', async () => {
    const session = await signUp(api);
    const bystander = await signUp(api);
    await api.post('/v1/memos', { text: 'mine' }, { token: session.accessToken });
    await api.post('/v1/memos', { text: 'theirs' }, { token: bystander.accessToken });

    const answer = await api.delete('/v1/account', { password: session.password }, { token: session.accessToken });
    assert.equal(answer.status, 204);

    assertProblem(await api.get('/v1/account', { token: session.accessToken }), 401, 'unauthorized');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken }), 401, 'unauthorized');
    assertProblem(await api.get(`/v1/users/${session.user.handle}`), 404, 'not_found');
    assert.equal((await api.post('/v1/auth/login', { email: session.user.email, password: session.password })).status, 401);

    const { db } = testApp.deps.database;
    const leftovers = await Promise.all([
      db.selectFrom('memos').select('id').where('user_id', '=', session.user.id).execute(),
      db.selectFrom('auth_sessions').select('id').where('user_id', '=', session.user.id).execute(),
    ]);
    assert.deepEqual(leftovers, [[], []]);
    assert.equal((await api.get('/v1/memos', { token: bystander.accessToken })).body.items.length, 1);

    // The email is free again.
    const again = await api.post('/v1/auth/signup', { email: session.user.email, password: 'password123', name: 'Again' });
    assert.equal(again.status, 201);
  });
});
