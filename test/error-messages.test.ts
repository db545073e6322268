import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { appPerFile } from './helpers/app.ts';
import { assertProblem, signUp } from './helpers/factories.ts';
import { imageSample } from './helpers/media-samples.ts';
import { putRecording } from './helpers/media.ts';

/** Every error answer names what was wrong and what would be right, over real HTTP. */
const shared = appPerFile();
const { api } = shared;

const JSON_BODY = 'This route takes a JSON object as its body: send one with Content-Type: application/json';
const REALM = 'Bearer realm="plaza"';

describe('validation messages', () => {
  it('names the allowed values of an enum, once', async () => {
    const { accessToken: token } = await signUp(api);
    for (const visibility of ['private', 5, null]) {
      const answer = await api.post('/v1/posts', { text: 'hi', visibility }, { token });
      assertProblem(answer, 400, 'invalid_request');
      assert.deepEqual(answer.body.errors, [{ path: '/visibility', message: 'must be one of: "public", "followers"' }]);
      assert.equal(answer.body.detail, 'The body is not valid: /visibility must be one of: "public", "followers"');
    }
    const query = await api.get('/v1/media/some-id/content?variant=huge');
    assertProblem(query, 400, 'invalid_request');
    assert.equal(query.body.detail, 'Query parameter "variant" must be one of: "clean", "thumbnail", "small", "large"');
  });

  it('words the common keywords for a person', async () => {
    const { accessToken: token } = await signUp(api);
    const cases: [Promise<any>, { path: string; message: string }][] = [
      [api.post('/v1/auth/signup', { email: 'a@example.test', name: 'N' }), { path: '/password', message: 'is required' }],
      [
        api.post('/v1/auth/login', { email: 'a@example.test', password: 'x', admin: true }),
        { path: '/admin', message: 'is not accepted (accepted: email, password)' },
      ],
      [api.post('/v1/memos', { text: 5 }, { token }), { path: '/text', message: 'must be a string' }],
      [api.post('/v1/memos', { text: '' }, { token }), { path: '/text', message: 'must not be empty' }],
      [api.post('/v1/memos', { text: 'x'.repeat(10_001) }, { token }), { path: '/text', message: 'must have at most 10000 characters' }],
      [api.post('/v1/auth/signup', { email: 'a@example.test', password: 'short', name: 'N' }), { path: '/password', message: 'must have at least 8 characters' }],
      [
        api.patch('/v1/account', { handle: 'A B' }, { token }),
        { path: '/handle', message: 'must match the pattern ^[a-z0-9_]{3,30}$ (lower-case letters, digits and _)' },
      ],
      [api.patch('/v1/account', { name: '   ' }, { token }), { path: '/name', message: 'must match the pattern \\S (not only spaces)' }],
      [api.post('/v1/auth/signup', { email: 'nope', password: 'longenough', name: 'N' }), { path: '/email', message: 'must be an email address' }],
      [api.post('/v1/posts', { text: 'x', priceCoins: -1 }, { token }), { path: '/priceCoins', message: 'must be at least 0' }],
      [api.post('/v1/posts', { text: 'x', priceCoins: 1.5 }, { token }), { path: '/priceCoins', message: 'must be an integer' }],
      [
        api.post('/v1/posts', { text: 'x', mediaIds: ['a', 'a'] }, { token }),
        { path: '/mediaIds', message: 'must not list an item twice (/mediaIds/0 and /mediaIds/1 are the same)' },
      ],
      [api.post('/v1/posts', { text: 'x', mediaIds: ['a', 'b', 'c', 'd', 'e'] }, { token }), { path: '/mediaIds', message: 'must have at most 4 items' }],
    ];
    for (const [request, expected] of cases) {
      const answer = await request;
      assertProblem(answer, 400, 'invalid_request');
      assert.deepEqual(answer.body.errors, [expected]);
      assert.equal(answer.body.detail, `The body is not valid: ${expected.path} ${expected.message}`);
    }
  });

  it('names the query parameter and the accepted ones', async () => {
    const { accessToken: token } = await signUp(api);
    const expectations: [string, string][] = [
      ['limit=abc', 'Query parameter "limit" must be an integer'],
      ['limit=0', 'Query parameter "limit" must be at least 1'],
      ['limit=101', 'Query parameter "limit" must be at most 100'],
      ['sort=asc', 'Query parameter "sort" is not accepted (accepted: limit, cursor, q)'],
    ];
    for (const [query, detail] of expectations) {
      const answer = await api.get(`/v1/memos?${query}`, { token });
      assertProblem(answer, 400, 'invalid_request');
      assert.equal(answer.body.detail, detail);
    }
  });

  it('names a bad path parameter and why', async () => {
    const { accessToken: token } = await signUp(api);
    for (const length of [65, 1024]) {
      const answer = await api.get(`/v1/memos/${'x'.repeat(length)}`, { token });
      assertProblem(answer, 400, 'invalid_request');
      assert.equal(answer.body.detail, 'Path parameter "id" must have at most 64 characters');
      assert.deepEqual(answer.body.errors, [{ path: '/id', message: 'must have at most 64 characters' }]);
    }
    assert.equal((await api.get('/v1/memos/not-an-id', { token })).body.detail, 'No such memo');
  });

  it('says a JSON object is required when the body is missing, empty or not an object', async () => {
    const { accessToken: token } = await signUp(api);
    const missing = await api.call('POST', '/v1/memos', { token });
    assertProblem(missing, 400, 'invalid_request');
    assert.equal(missing.body.detail, JSON_BODY);
    assert.deepEqual(missing.body.errors, [{ path: '/', message: 'is required: a JSON object' }]);
    const empty = await api.call('POST', '/v1/memos', { token, headers: { 'content-type': 'application/json' } });
    assertProblem(empty, 400, 'invalid_request');
    assert.equal(empty.body.detail, JSON_BODY);
    const array = await api.post('/v1/memos', [{ text: 'hi' }], { token });
    assertProblem(array, 400, 'invalid_request');
    assert.equal(array.body.detail, 'The body must be a JSON object, not an array');
    const malformed = await api.call('POST', '/v1/memos', { token, raw: '{"text":', headers: { 'content-type': 'application/json' } });
    assertProblem(malformed, 400, 'invalid_request');
    assert.equal(malformed.body.detail, 'The body is not valid JSON (its Content-Type says application/json)');
  });

  it('answers another content type on a JSON route with 415 saying JSON is expected', async () => {
    const { accessToken: token } = await signUp(api);
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const answer = await api.call('POST', '/v1/memos', { token, raw: 'text=hi', headers: { 'content-type': type } });
      assertProblem(answer, 415, 'unsupported_media_type');
      assert.equal(answer.body.detail, 'This route takes a JSON body: send Content-Type: application/json');
    }
  });

  it('names the kind of a refused upload with the right article', async () => {
    const { accessToken: token } = await signUp(api);
    const answer = await putRecording(api, token, 'photo.png', await imageSample('png'), 'application/octet-stream');
    assertProblem(answer, 415, 'unsupported_media_type');
    assert.equal(answer.body.detail, 'An image (image/png) is not accepted here: a recording must be audio');
  });
});

describe('over-long URLs', () => {
  const tooLong = /^The path segment after "[^"]*\/" is \d+ characters long; Plaza reads at most 1024 characters in one segment$/;

  it('answers a path segment over 1024 characters with 414, on any route or none', async () => {
    const { accessToken: token } = await signUp(api);
    for (const length of [1025, 1_100, 5_000]) {
      for (const path of [`/v1/memos/${'x'.repeat(length)}`, `/v1/users/${'h'.repeat(length)}/posts`, `/v1/nothing/${'n'.repeat(length)}`]) {
        const answer = await api.get(path, { token });
        assertProblem(answer, 414, 'uri_too_long');
        assert.match(answer.body.detail, tooLong);
        assert.ok(answer.body.detail.includes(`is ${length} characters long`), answer.body.detail);
        assert.ok(answer.text.length < 1_000, 'the segment is not echoed back');
      }
    }
    // Before the token is looked at: the URL is refused whoever sends it.
    assertProblem(await api.get(`/v1/memos/${'x'.repeat(1_100)}`), 414, 'uri_too_long');
    const upload = await putRecording(api, token, 'r'.repeat(5_000), Buffer.from('RIFF'));
    assertProblem(upload, 414, 'uri_too_long');
  });

  it('measures segments once percent-decoded, as the router does', async () => {
    const { accessToken: token } = await signUp(api);
    // 600 characters, sent as 1800: within the limit.
    const encoded = encodeURIComponent('é'.repeat(600));
    assertProblem(await api.get(`/v1/memos/${encoded}`, { token }), 400, 'invalid_request');
    assertProblem(await api.get(`/v1/memos/${encodeURIComponent('é'.repeat(1_100))}`, { token }), 414, 'uri_too_long');
  });

  it('leaves a URL past Node’s header limit to Node: 431, saying so', async () => {
    const answer = await api.get(`/v1/memos/${'x'.repeat(20_000)}`);
    assertProblem(answer, 431, 'headers_too_large');
    assert.match(answer.body.detail, /^The URL and headers together are larger than 16384 bytes/);
  });
});

describe('401 answers', () => {
  const challenge = (answer: { headers: Headers }) => answer.headers.get('www-authenticate');
  const invalidToken = (description: string) => `${REALM}, error="invalid_token", error_description="${description}"`;

  it('challenges without an error when no bearer credentials were sent', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: '' }] as Record<string, string>[]) {
      const answer = await api.call('GET', '/v1/memos', { headers });
      assertProblem(answer, 401, 'unauthorized');
      assert.equal(challenge(answer), REALM);
      assert.match(answer.body.detail, /Authorization: Bearer <accessToken>/);
    }
    const media = await api.get('/v1/media/some-id/content');
    assertProblem(media, 401, 'unauthorized');
    assert.equal(challenge(media), REALM);
    assert.match(media.body.detail, /signed link/);
  });

  it('names what is wrong with a token that was sent', async () => {
    const session = await signUp(api);
    const malformed = await api.call('GET', '/v1/memos', { headers: { authorization: 'Bearer ' } });
    assertProblem(malformed, 401, 'unauthorized');
    assert.equal(challenge(malformed), invalidToken(malformed.body.detail));
    assert.match(malformed.body.detail, /no well-formed token/);

    const forged = await api.get('/v1/memos', { token: 'eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl' });
    assertProblem(forged, 401, 'unauthorized');
    assert.equal(forged.body.detail, 'The access token is not valid (altered, or not issued by this server): sign in again');
    assert.equal(challenge(forged), invalidToken(forged.body.detail));

    const key = new TextEncoder().encode(shared.testApp.config.jwtSecret);
    const expiredToken = await new SignJWT({ sid: 'session' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(session.user.id)
      .setIssuer('plaza')
      .setAudience('plaza-api')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    const expired = await api.get('/v1/memos', { token: expiredToken });
    assertProblem(expired, 401, 'unauthorized');
    assert.equal(expired.body.detail, 'The access token has expired: get a new one from POST /v1/auth/refresh');
    assert.equal(challenge(expired), invalidToken(expired.body.detail));

    assert.equal((await api.post('/v1/auth/logout', { refreshToken: session.refreshToken })).status, 204);
    const revoked = await api.get('/v1/memos', { token: session.accessToken });
    assertProblem(revoked, 401, 'unauthorized');
    assert.match(revoked.body.detail, /^The session of this access token has ended .*: sign in again$/);
    assert.equal(challenge(revoked), invalidToken(revoked.body.detail));
  });

  it('challenges on login and refresh failures too, with no bearer error: their credentials are in the body', async () => {
    const session = await signUp(api);
    const login = await api.post('/v1/auth/login', { email: session.user.email, password: 'wrong-password' });
    assertProblem(login, 401, 'invalid_credentials');
    assert.equal(challenge(login), REALM);

    const unknown = await api.post('/v1/auth/refresh', { refreshToken: 'rt_made_up' });
    assertProblem(unknown, 401, 'unauthorized');
    assert.equal(unknown.body.detail, 'This refresh token is not known here: sign in again');
    assert.equal(challenge(unknown), REALM);
  });

  it('says a replayed refresh token ended the session for safety', async () => {
    const session = await signUp(api);
    const rotated = await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken });
    assert.equal(rotated.status, 200);
    const replayed = await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken });
    assertProblem(replayed, 401, 'unauthorized');
    assert.match(replayed.body.detail, /^This refresh token was already used once, so its session was ended for safety/);
    assert.equal(challenge(replayed), REALM);
    // The rightful holder's newer token now finds the session ended, and is told why it may have been.
    const after = await api.post('/v1/auth/refresh', { refreshToken: rotated.body.refreshToken });
    assertProblem(after, 401, 'unauthorized');
    assert.match(after.body.detail, /^This session has ended .*ended for safety.*: sign in again$/);
  });

  it('carries the challenge on every route that needs a token', async () => {
    const document = (await api.get('/openapi.json')).body;
    let checked = 0;
    for (const [path, operations] of Object.entries<Record<string, any>>(document.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        const security: Record<string, unknown>[] | undefined = operation.security;
        if (security === undefined || security.some((scheme) => Object.keys(scheme).length === 0)) continue;
        if (!security.some((scheme) => 'bearer' in scheme)) continue;
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const answer = await api.call(method.toUpperCase(), url, { headers: { 'tus-resumable': '1.0.0' } });
        assert.equal(answer.status, 401, `${method} ${path}`);
        assert.equal(challenge(answer), REALM, `${method} ${path}`);
        checked += 1;
      }
    }
    assert.ok(checked > 20, `${checked} routes checked`);
  });
});
