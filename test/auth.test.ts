import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp } from './helpers/factories.ts';

let testApp: TestApp;
let api: Client;

before(async () => {
  testApp = await startApp({ LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '5' });
  api = client(testApp);
});
after(() => testApp.close());

const signAs = (secret: string, claims: { sub: string; sid: string }, expiresIn = '5m') =>
  new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuer('plaza')
    .setAudience('plaza-api')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());

describe('signup', () => {
  it('creates an account and signs it in', async () => {
    const answer = await api.post('/v1/auth/signup', {
      email: 'Ada@Example.test',
      password: 'correct horse battery',
      name: 'Ada Lovelace',
      handle: 'ada',
    });
    assert.equal(answer.status, 201);
    const { user, accessToken, refreshToken, expiresIn } = answer.body;
    assert.equal(user.handle, 'ada');
    assert.equal(user.email, 'Ada@Example.test');
    assert.deepEqual(user.providers, ['password']);
    assert.deepEqual(user.counts, { followers: 0, following: 0, posts: 0 });
    assert.equal(user.avatarUrl, null);
    assert.equal(expiresIn, 900);
    assert.match(refreshToken, /^rt_/);
    assert.equal((await api.get('/v1/account', { token: accessToken })).body.id, user.id);
  });

  it('stores only an argon2id hash of the password', async () => {
    const session = await signUp(api, { password: 'plain-text-never-stored' });
    const row = await testApp.deps.database.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', session.user.id)
      .executeTakeFirstOrThrow();
    assert.match(row.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('generates a handle when none is given, and a different one on collision', async () => {
    const first = await signUp(api, { name: 'Grace Hopper' });
    const second = await signUp(api, { name: 'Grace Hopper' });
    assert.equal(first.user.handle, 'grace_hopper');
    assert.match(second.user.handle, /^grace_hopper_\d+$/);
    const emoji = await signUp(api, { name: '🦊🦊', email: 'fox@example.test' });
    assert.match(emoji.user.handle, /^[a-z0-9_]{3,30}$/);
  });

  it('refuses a taken email whatever its case, and a taken handle', async () => {
    await signUp(api, { email: 'taken@example.test', handle: 'taken_handle' });
    assertProblem(
      await api.post('/v1/auth/signup', { email: 'TAKEN@example.TEST', password: 'password123', name: 'X' }),
      409,
      'email_taken',
    );
    assertProblem(
      await api.post('/v1/auth/signup', {
        email: 'other@example.test',
        password: 'password123',
        name: 'X',
        handle: 'taken_handle',
      }),
      409,
      'handle_taken',
    );
  });

  it('lets exactly one of many simultaneous signups with one email win', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api.post('/v1/auth/signup', { email: 'race@example.test', password: 'password123', name: `Racer ${i}` }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
  });

  it('refuses bad fields', async () => {
    const valid = { email: 'valid@example.test', password: 'password123', name: 'Valid' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid, password: 'short' }, '/password'],
      [{ ...valid, password: 'x'.repeat(257) }, '/password'],
      [{ ...valid, password: 12345678 }, '/password'],
      [{ ...valid, name: '' }, '/name'],
      [{ ...valid, name: '   ' }, '/name'],
      [{ ...valid, name: 'n'.repeat(51) }, '/name'],
      [{ ...valid, handle: 'AB' }, '/handle'],
      [{ ...valid, handle: 'Has-Caps' }, '/handle'],
      [{ ...valid, handle: '../../etc' }, '/handle'],
      [{ ...valid, email: 'nope' }, '/email'],
      [{ ...valid, email: ['a@b.c'] }, '/email'],
      [{ ...valid, role: 'admin' }, '/role'],
    ];
    for (const [body, path] of cases) {
      const answer = await api.post('/v1/auth/signup', body);
      assertProblem(answer, 400, 'invalid_request');
      assert.equal(answer.body.errors[0].path, path, JSON.stringify(body).slice(0, 80));
    }
    assertProblem(await api.post('/v1/auth/signup', ['array']), 400, 'invalid_request');
    assert.equal((await api.post('/v1/auth/login', { email: 'valid@example.test', password: 'password123' })).status, 401);
  });
});

describe('login', () => {
  it('signs in with any case of the email', async () => {
    const session = await signUp(api, { email: 'MiXeD@example.test', password: 'password-mixed' });
    const answer = await api.post('/v1/auth/login', { email: 'mixed@EXAMPLE.test', password: 'password-mixed' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.user.id, session.user.id);
    assert.notEqual(answer.body.refreshToken, session.refreshToken);
  });

  it('answers a wrong password and an unknown email the same way, in about the same time', async () => {
    const session = await signUp(api);
    const attempt = async (email: string) => {
      const started = performance.now();
      const answer = await api.post('/v1/auth/login', { email, password: 'wrong-password' });
      return { answer, ms: performance.now() - started };
    };
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) {
      const a = await attempt(session.user.email);
      const b = await attempt(`nobody${i}@example.test`);
      assertProblem(a.answer, 401, 'invalid_credentials');
      assertProblem(b.answer, 401, 'invalid_credentials');
      assert.equal(a.answer.body.detail, b.answer.body.detail);
      wrong.push(a.ms);
      unknown.push(b.ms);
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    // Both run one argon2id verification; without the dummy hash the unknown email would be ~100x faster.
    assert.ok(median(unknown) > median(wrong) / 3, `unknown ${median(unknown)} ms vs wrong ${median(wrong)} ms`);
  });

  it('limits attempts per account with 429 and Retry-After', async () => {
    const session = await signUp(api);
    for (let i = 0; i < 5; i++) {
      assert.equal((await api.post('/v1/auth/login', { email: session.user.email, password: 'bad' })).status, 401);
    }
    const limited = await api.post('/v1/auth/login', { email: session.user.email, password: session.password });
    assertProblem(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    // Another account from the same address is not affected.
    const other = await signUp(api);
    assert.equal((await api.post('/v1/auth/login', { email: other.user.email, password: other.password })).status, 200);
  });

  it('limits attempts per IP address', async () => {
    const strict = await startApp({ LOGIN_RATE_LIMIT_PER_IP: '3' });
    try {
      const strictApi = client(strict);
      for (let i = 0; i < 3; i++) {
        assert.equal((await strictApi.post('/v1/auth/login', { email: `a${i}@example.test`, password: 'x' })).status, 401);
      }
      assertProblem(await strictApi.post('/v1/auth/login', { email: 'z@example.test', password: 'x' }), 429, 'rate_limited');
    } finally {
      await strict.close();
    }
  });
});

describe('signup throttling', () => {
  it('limits signups per IP address, since they reveal which emails are taken', async () => {
    const strict = await startApp({ SIGNUP_RATE_LIMIT_PER_IP: '2' });
    try {
      const strictApi = client(strict);
      await signUp(strictApi);
      await signUp(strictApi);
      const limited = await strictApi.post('/v1/auth/signup', { email: 'late@example.test', password: 'password123', name: 'Late' });
      assertProblem(limited, 429, 'rate_limited');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    } finally {
      await strict.close();
    }
  });
});

describe('refresh tokens', () => {
  it('rotates: the new pair works and the old refresh token stops working', async () => {
    const session = await signUp(api);
    const refreshed = await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.body.user.id, session.user.id);
    assert.notEqual(refreshed.body.refreshToken, session.refreshToken);
    assert.equal((await api.get('/v1/account', { token: refreshed.body.accessToken })).status, 200);
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken }), 401, 'unauthorized');
  });

  it('revokes the whole family when a rotated token is replayed', async () => {
    const session = await signUp(api);
    const second = (await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken })).body;
    // An attacker replays the first token: everything issued in this session dies.
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken }), 401, 'unauthorized');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: second.refreshToken }), 401, 'unauthorized');
    assertProblem(await api.get('/v1/account', { token: second.accessToken }), 401, 'unauthorized');
    assertProblem(await api.get('/v1/account', { token: session.accessToken }), 401, 'unauthorized');
    // Other sessions of the same user are untouched.
    const login = await api.post('/v1/auth/login', { email: session.user.email, password: session.password });
    assert.equal((await api.get('/v1/account', { token: login.body.accessToken })).status, 200);
  });

  it('lets at most one of several simultaneous uses of one token win', async () => {
    const session = await signUp(api);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => api.post('/v1/auth/refresh', { refreshToken: session.refreshToken })),
    );
    assert.ok(answers.filter((a) => a.status === 200).length <= 1);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 401));
  });

  it('refuses unknown, empty and oversized tokens', async () => {
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: 'rt_made_up' }), 401, 'unauthorized');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: '' }), 400, 'invalid_request');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: 'x'.repeat(5000) }), 400, 'invalid_request');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: { $ne: null } }), 400, 'invalid_request');
  });

  it('expires refresh tokens', async () => {
    const shortLived = await startApp({ REFRESH_TOKEN_TTL: '60' });
    try {
      const shortApi = client(shortLived);
      const session = await signUp(shortApi);
      await shortLived.deps.database.db.updateTable('refresh_tokens').set({ expires_at: new Date(Date.now() - 1000) }).execute();
      assertProblem(await shortApi.post('/v1/auth/refresh', { refreshToken: session.refreshToken }), 401, 'unauthorized');
    } finally {
      await shortLived.close();
    }
  });
});

describe('logout', () => {
  it('ends the session: its refresh and access tokens stop working', async () => {
    const session = await signUp(api);
    const other = await api.post('/v1/auth/login', { email: session.user.email, password: session.password });
    const answer = await api.post('/v1/auth/logout', { refreshToken: session.refreshToken });
    assert.equal(answer.status, 204);
    assert.equal(answer.text, '');
    assertProblem(await api.get('/v1/account', { token: session.accessToken }), 401, 'unauthorized');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken }), 401, 'unauthorized');
    assert.equal((await api.get('/v1/account', { token: other.body.accessToken })).status, 200, 'other device stays in');
  });

  it('answers 204 for a token it does not know, revealing nothing', async () => {
    assert.equal((await api.post('/v1/auth/logout', { refreshToken: 'rt_unknown' })).status, 204);
  });
});

describe('access tokens', () => {
  it('refuses missing, malformed, tampered, foreign, expired and unsigned tokens', async () => {
    const session = await signUp(api);
    const { sub, sid } = claimsOf(session.accessToken);
    const [header, payload, signature] = session.accessToken.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(session.accessToken), sub: 'someone-else' })).toString('base64url');
    const tokens = {
      tampered: `${header}.${forged}.${signature}`,
      badSignature: `${header}.${payload}.${(signature ?? '').slice(0, -4)}AAAA`,
      otherSecret: await signAs('another-secret-that-is-long-enough-to-sign', { sub, sid }),
      expired: await signAs(testApp.config.jwtSecret, { sub, sid }, '-1m'),
      algNone: new UnsecuredJWT({ sid }).setSubject(sub).setIssuer('plaza').setAudience('plaza-api').setExpirationTime('5m').encode(),
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const answer = await api.get('/v1/account', { token });
      assert.equal(answer.status, 401, name);
      assertProblem(answer, 401, 'unauthorized');
    }
    for (const authorization of ['', 'Bearer', 'Bearer ', `Basic ${session.accessToken}`, `bearer  ${session.accessToken} x`]) {
      assertProblem(await api.get('/v1/account', { headers: { authorization } }), 401, 'unauthorized');
    }
    assertProblem(await api.get('/v1/account'), 401, 'unauthorized');
    // The genuine token still works, and a validly signed token for a session that does not exist does not.
    assert.equal((await api.get('/v1/account', { token: session.accessToken })).status, 200);
    const madeUpSession = await signAs(testApp.config.jwtSecret, { sub, sid: 'no-such-session' });
    assertProblem(await api.get('/v1/account', { token: madeUpSession }), 401, 'unauthorized');
  });
});

describe('session checks', () => {
  it('notices a session revoked elsewhere within AUTH_CACHE_SECONDS, and at once when it is 0', async () => {
    for (const seconds of ['1', '0']) {
      const instance = await startApp({ AUTH_CACHE_SECONDS: seconds });
      try {
        const instanceApi = client(instance);
        const session = await signUp(instanceApi);
        assert.equal((await instanceApi.get('/v1/account', { token: session.accessToken })).status, 200);
        // Another instance revokes the session: only the database knows.
        await instance.deps.database.db.updateTable('auth_sessions').set({ revoked_at: new Date() }).execute();
        if (seconds === '1') {
          assert.equal((await instanceApi.get('/v1/account', { token: session.accessToken })).status, 200, 'cached');
          await new Promise((resolve) => setTimeout(resolve, 1100));
        }
        assertProblem(await instanceApi.get('/v1/account', { token: session.accessToken }), 401, 'unauthorized');
      } finally {
        await instance.close();
      }
    }
  });
});

describe('password change', () => {
  it('needs the current password, then signs out every other session', async () => {
    const session = await signUp(api, { password: 'old-password-1' });
    const otherDevice = (await api.post('/v1/auth/login', { email: session.user.email, password: 'old-password-1' })).body;

    assertProblem(
      await api.put('/v1/account/password', { currentPassword: 'wrong', newPassword: 'new-password-1' }, { token: session.accessToken }),
      403,
      'invalid_credentials',
    );
    assertProblem(
      await api.put('/v1/account/password', { currentPassword: 'old-password-1', newPassword: 'short' }, { token: session.accessToken }),
      400,
      'invalid_request',
    );
    const changed = await api.put(
      '/v1/account/password',
      { currentPassword: 'old-password-1', newPassword: 'new-password-1' },
      { token: session.accessToken },
    );
    assert.equal(changed.status, 204);

    assert.equal((await api.get('/v1/account', { token: session.accessToken })).status, 200, 'this session stays');
    assertProblem(await api.get('/v1/account', { token: otherDevice.accessToken }), 401, 'unauthorized');
    assertProblem(await api.post('/v1/auth/refresh', { refreshToken: otherDevice.refreshToken }), 401, 'unauthorized');
    assert.equal((await api.post('/v1/auth/login', { email: session.user.email, password: 'old-password-1' })).status, 401);
    assert.equal((await api.post('/v1/auth/login', { email: session.user.email, password: 'new-password-1' })).status, 200);
  });

  it('is refused without a token', async () => {
    assertProblem(await api.put('/v1/account/password', { currentPassword: 'a', newPassword: 'bbbbbbbb' }), 401, 'unauthorized');
  });
});

describe('providers', () => {
  it('lists no social providers when none are configured', async () => {
    assert.deepEqual((await api.get('/v1/auth/providers')).body, { providers: [] });
  });
});
