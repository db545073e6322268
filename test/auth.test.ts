import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SignJWT, UnsecuredJWT } from 'jose';
import { AccessCache } from '../src/modules/auth/access-cache.ts';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp } from './helpers/factories.ts';

let testApp: TestApp;
let api: Client;

before(async () => {
  // The password hashing queue at its default: 'password hashing under load' is about it.
  testApp = await startApp({ LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '5', PASSWORD_HASH_QUEUE: '64' });
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

/**
 * POSTs JSON to the app from a chosen loopback address (Linux routes all of 127.0.0.0/8 to `lo`), so
 * one test can be several clients; the app sees it as `request.ip`.
 */
function postFrom(target: TestApp, localAddress: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const sent = request(`${target.url}${path}`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(JSON.stringify(body));
  });
}

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
    // A long name's handle, and the one made beside it, still fit what a handle may be.
    const longName = 'Bartholomew Maximilian Fitzgerald';
    const long = await Promise.all([signUp(api, { name: longName }), signUp(api, { name: longName })]);
    for (const session of long) assert.match(session.user.handle, /^bartholomew_[a-z0-9_]{0,19}$/);
  });

  it('never answers handle_taken to simultaneous signups that chose no handle', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        api.post('/v1/auth/signup', { email: `namesake-${i}@example.test`, password: 'password123', name: 'Sam Namesake' }),
      ),
    );
    assert.deepEqual(answers.map((answer) => answer.status), Array<number>(30).fill(201), answers.map((answer) => answer.text).join('\n'));
    const handles = answers.map((answer) => answer.body.user.handle as string);
    assert.equal(new Set(handles).size, 30, 'each has a handle of their own');
    for (const handle of handles) assert.match(handle, /^sam_namesake(_\w+)?$/);
    assert.ok(handles.every((handle) => handle.length <= 30));
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

  it('takes a stored password hash argon2 cannot read for one that matches nothing, quietly', async () => {
    const session = await signUp(api);
    await testApp.deps.database.db.updateTable('users').set({ password_hash: 'not-an-argon2-hash' }).where('id', '=', session.user.id).execute();
    const logged = testApp.logs.length;
    assertProblem(await api.post('/v1/auth/login', { email: session.user.email, password: session.password }), 401, 'invalid_credentials');
    assert.deepEqual(testApp.logs.slice(logged).filter((line) => Number(line.level) >= 50), []);
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

  it('limits attempts per IP address, and attempts refused for the address leave the account alone', async () => {
    const strict = await startApp({ LOGIN_RATE_LIMIT_PER_IP: '3', LOGIN_RATE_LIMIT_PER_ACCOUNT: '5' });
    try {
      const strictApi = client(strict);
      for (let i = 0; i < 3; i++) {
        assert.equal((await strictApi.post('/v1/auth/login', { email: `a${i}@example.test`, password: 'x' })).status, 401);
      }
      assertProblem(await strictApi.post('/v1/auth/login', { email: 'z@example.test', password: 'x' }), 429, 'rate_limited');

      // From another address, someone guesses one account's password well past both limits…
      const victim = await signUp(strictApi);
      const guesses: number[] = [];
      for (let i = 0; i < 20; i++) {
        guesses.push((await postFrom(strict, '127.0.0.2', '/v1/auth/login', { email: victim.user.email, password: `guess-${i}` })).status);
      }
      assert.deepEqual(guesses, [401, 401, 401, ...Array<number>(17).fill(429)]);
      // …but only the 3 attempts their address was allowed count against the account: its owner still signs in.
      const owner = await postFrom(strict, '127.0.0.3', '/v1/auth/login', { email: victim.user.email, password: victim.password });
      assert.equal(owner.status, 200, JSON.stringify(owner.body));
    } finally {
      await strict.close();
    }
  });
});

/**
 * Times file and DNS look-ups, over and over, from a worker thread: it shares this process's libuv
 * thread pool with the app (and so with argon2) but has its own event loop, so busy request
 * handling here does not count, only waiting for a pool thread. `stop` gives the slowest, in ms.
 */
async function watchThreadPool(): Promise<{ stop(): Promise<number> }> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { stat } = require('node:fs/promises');
     const { lookup } = require('node:dns/promises');
     let stopping = false;
     let slowest = 0;
     parentPort.on('message', () => { stopping = true; });
     (async () => {
       parentPort.postMessage('watching');
       while (!stopping) {
         const started = performance.now();
         await Promise.all([stat(process.cwd()), lookup('localhost')]);
         slowest = Math.max(slowest, performance.now() - started);
       }
       parentPort.postMessage(slowest);
     })();`,
    { eval: true },
  );
  await once(worker, 'message');
  return {
    async stop() {
      worker.postMessage('stop');
      const [slowest] = await once(worker, 'message');
      await worker.terminate();
      return slowest as number;
    },
  };
}

describe('password hashing under load', () => {
  const signUpMany = (count: number) =>
    Promise.all(
      Array.from({ length: count }, () => {
        const tag = randomBytes(6).toString('hex');
        return api.post('/v1/auth/signup', { email: `load-${tag}@example.test`, password: 'password123', name: `Load ${tag}` });
      }),
    );

  it('leaves libuv threads free for file and DNS work while many passwords are hashed', async () => {
    const watcher = await watchThreadPool();
    const started = performance.now();
    const answers = await signUpMany(64);
    const burstMs = performance.now() - started;
    const slowest = await watcher.stop();
    assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([201]));
    // Unbounded, the 64 hashes would take all 4 threads and a file look-up would queue behind them,
    // for about a quarter of the burst or more; bounded, it never waits for a hash.
    assert.ok(slowest < burstMs / 10, `a file or DNS look-up waited up to ${slowest.toFixed(1)} ms during a ${burstMs.toFixed(0)} ms burst`);
  });

  it('refuses at once, with 429 and Retry-After, what its queue cannot hold', async () => {
    const answers = await signUpMany(150);
    const refused = answers.filter((answer) => answer.status === 429);
    assert.ok(refused.length > 0, 'past the queue (64), signups are refused');
    for (const answer of refused) {
      assertProblem(answer, 429, 'rate_limited');
      assert.equal(answer.headers.get('retry-after'), '1');
    }
    const created = answers.filter((answer) => answer.status === 201);
    assert.ok(created.length >= 66, `those running and queued are served (${created.length})`);
    assert.equal(created.length + refused.length, answers.length);
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

  it('is not undone by a request whose session check raced it', async () => {
    // A check that read the session as active just before the logout committed, and cached it just
    // after the logout cleared the cache, would keep the revoked token working for AUTH_CACHE_SECONDS.
    // The window is narrow (on PostgreSQL about one round in ten hits it; PGlite runs one query at a
    // time, in order), so each round races one logout against ten reads, sixty times.
    for (let round = 0; round < 60; round++) {
      const session = await signUp(api);
      const read = () => api.get('/v1/account', { token: session.accessToken });
      await Promise.all([api.post('/v1/auth/logout', { refreshToken: session.refreshToken }), ...Array.from({ length: 10 }, read)]);
      assertProblem(await read(), 401, 'unauthorized');
    }
  });

  it('keeps a session revoked during a check out of the access cache', async () => {
    // The same race, made certain: the check reads the session as active, then the revocation lands.
    const cache = new AccessCache({ ttlMs: 60_000 });
    const caller = { userId: 'u1', sessionId: 's1' };
    const verified = { caller, tokenExpiresAtMs: Date.now() + 60_000 };
    const racedBy = (revoke: () => void) => async () => {
      revoke();
      return verified;
    };
    assert.deepEqual(await cache.through('t1', racedBy(() => cache.forgetSession('s1'))), caller, 'this request still passes');
    assert.equal(await cache.through('t1', async () => undefined), undefined, 'the next one checks again');
    assert.deepEqual(await cache.through('t2', racedBy(() => cache.forgetUser('u1', 's1'))), caller);
    assert.equal(await cache.through('t2', async () => undefined), undefined);
    // Checks that begin after a revocation are cached as before.
    assert.deepEqual(await cache.through('t3', async () => verified), caller);
    assert.deepEqual(await cache.through('t3', async () => undefined), caller, 'served from the cache');
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

  it('limits password guesses per session with 429 and Retry-After, leaving the owner\'s other sessions able to change it', async () => {
    const owner = await signUp(api);
    const stolen = (await api.post('/v1/auth/login', { email: owner.user.email, password: owner.password })).body;
    const change = (token: string, currentPassword: string) =>
      api.put('/v1/account/password', { currentPassword, newPassword: 'new-password-1' }, { token });
    for (let i = 0; i < 10; i++) assertProblem(await change(stolen.accessToken, `guess-${i}`), 403, 'invalid_credentials');
    const limited = await change(stolen.accessToken, owner.password);
    assertProblem(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assertProblem(await api.delete('/v1/account', { password: owner.password }, { token: stolen.accessToken }), 429, 'rate_limited');
    // A refreshed token is the same session, with the same budget.
    const refreshed = (await api.post('/v1/auth/refresh', { refreshToken: stolen.refreshToken })).body;
    assertProblem(await change(refreshed.accessToken, owner.password), 429, 'rate_limited');
    // The owner, on their own device, changes the password, which signs the guesser out.
    assert.equal((await change(owner.accessToken, owner.password)).status, 204);
    assertProblem(await api.get('/v1/account', { token: refreshed.accessToken }), 401, 'unauthorized');
  });
});

describe('providers', () => {
  it('lists no social providers when none are configured', async () => {
    assert.deepEqual((await api.get('/v1/auth/providers')).body, { providers: [] });
  });
});
