import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { startApp } from './helpers/app.ts';
import { signUp } from './helpers/factories.ts';
import { client, type Answer } from './helpers/http.ts';
import { closedIssuer, startIdentityProvider, startSilentIssuer, type IdentityProvider } from './helpers/identity-provider.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

/**
 * The native sign-in flow (`POST /v1/auth/social`) against a real OpenID provider (`oidc-provider`)
 * serving discovery and keys over https. Plaza runs as its own process, because the only way it
 * trusts the provider's test certificate authority is the one an operator would use for a private
 * one, NODE_EXTRA_CA_CERTS, which Node reads at start-up. The tokens are the provider's: signed with
 * the key it publishes (see `identity-provider.ts`).
 */

/** AUTH_PROVIDER_TIMEOUT_MS for the server under test: a provider that never answers costs this long. */
const PROVIDER_TIMEOUT_MS = 1500;
/** AUTH_JWKS_REFRESH_COOLDOWN: a key set may be fetched again this long after the last fetch. */
const REFRESH_COOLDOWN_SECONDS = 1;

let idp: IdentityProvider;
/** A provider of its own for the key rotation, so the others' keys stay put. */
let rotating: IdentityProvider;
let silent: Awaited<ReturnType<typeof startSilentIssuer>>;
let storage: ServerStorage;
let server: ServerProcess;
const api = client(async () => server.url);

before(async () => {
  [idp, rotating, silent, storage] = await Promise.all([startIdentityProvider(), startIdentityProvider(), startSilentIssuer(), serverStorage()]);
  const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  server = await startServer({
    ...storage.env,
    NODE_EXTRA_CA_CERTS: idp.caFile,
    // Every sign-in of this file comes from 127.0.0.1.
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    AUTH_PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
    AUTH_JWKS_REFRESH_COOLDOWN: String(REFRESH_COOLDOWN_SECONDS),
    AUTH_OIDC_PROVIDERS: 'corp,rotating,down,slow,mismatch',
    AUTH_OIDC_CORP_ISSUER: idp.issuer,
    AUTH_OIDC_CORP_NAME: 'Corp SSO',
    AUTH_OIDC_CORP_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_CORP_CLIENT_SECRET: 'corp-secret',
    AUTH_OIDC_CORP_AUDIENCES: 'plaza-ios, plaza-android',
    AUTH_OIDC_ROTATING_ISSUER: rotating.issuer,
    AUTH_OIDC_ROTATING_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_ROTATING_CLIENT_SECRET: 'rotating-secret',
    AUTH_OIDC_DOWN_ISSUER: await closedIssuer(),
    AUTH_OIDC_DOWN_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_DOWN_CLIENT_SECRET: 'down-secret',
    AUTH_OIDC_SLOW_ISSUER: silent.issuer,
    AUTH_OIDC_SLOW_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_SLOW_CLIENT_SECRET: 'slow-secret',
    // Its discovery document (the same as corp's: the slash is dropped to find it) names the issuer without the slash.
    AUTH_OIDC_MISMATCH_ISSUER: `${idp.issuer}/`,
    AUTH_OIDC_MISMATCH_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_MISMATCH_CLIENT_SECRET: 'mismatch-secret',
    AUTH_GOOGLE_ISSUER: idp.issuer,
    AUTH_GOOGLE_CLIENT_ID: 'google-web.apps.example',
    AUTH_GOOGLE_CLIENT_SECRET: 'google-secret',
    AUTH_GOOGLE_AUDIENCES: 'google-android.apps.example',
    AUTH_APPLE_ISSUER: idp.issuer,
    AUTH_APPLE_CLIENT_ID: 'com.example.plaza',
    AUTH_APPLE_TEAM_ID: 'TEAM123456',
    AUTH_APPLE_KEY_ID: 'KEY1234567',
    AUTH_APPLE_PRIVATE_KEY: appleKey,
    AUTH_GITHUB_CLIENT_ID: 'github-client',
    AUTH_GITHUB_CLIENT_SECRET: 'github-secret',
  });
});

after(async () => {
  await server?.stop();
  await Promise.all([idp?.close(), rotating?.close(), silent?.close(), storage?.release()]);
});

const now = () => Math.floor(Date.now() / 1000);

function social(provider: string, token: string, nonce?: string): Promise<Answer> {
  return api.post('/v1/auth/social', { provider, token, ...(nonce !== undefined && { nonce }) });
}

function assertRefused(answer: Answer, code = 'invalid_social_token', status = 401) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body.code, code, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
  if (status === 401) assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="plaza"');
}

/** Base64url JSON, for tokens built by hand. */
const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('social sign-in, native flow', () => {
  it('lists only the configured providers', async () => {
    const answer = await api.get('/v1/auth/providers');
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body.providers, [
      { id: 'google', name: 'Google' },
      { id: 'apple', name: 'Apple' },
      { id: 'github', name: 'GitHub' },
      { id: 'corp', name: 'Corp SSO' },
      { id: 'rotating', name: 'rotating' },
      { id: 'down', name: 'down' },
      { id: 'slow', name: 'slow' },
      { id: 'mismatch', name: 'mismatch' },
    ]);
  });

  it('creates the user on the first sign-in and signs them in after', async () => {
    const sub = randomUUID();
    const email = `ada-${sub.slice(0, 8)}@corp.example`;
    const first = await social('corp', await idp.sign({ sub, name: 'Ada Lovelace', email, email_verified: true }));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.created, true);
    assert.equal(first.body.user.name, 'Ada Lovelace');
    assert.match(first.body.user.handle, /^ada_lovelace/);
    assert.equal(first.body.user.email, email);
    assert.deepEqual(first.body.user.providers, ['corp']);
    assert.ok(first.body.accessToken && first.body.refreshToken && first.body.expiresIn > 0);

    const account = await api.get('/v1/account', { token: first.body.accessToken });
    assert.equal(account.status, 200, account.text);
    assert.deepEqual(account.body.providers, ['corp']);

    const again = await social('corp', await idp.sign({ sub, name: 'Ada L. (renamed)' }));
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.created, false);
    assert.equal(again.body.user.id, first.body.user.id);
    assert.equal(again.body.user.name, 'Ada Lovelace');
    // The sessions work like a password sign-in's: refreshable.
    const refreshed = await api.post('/v1/auth/refresh', { refreshToken: again.body.refreshToken });
    assert.equal(refreshed.status, 200, refreshed.text);
  });

  it('makes a distinct handle for a second user of the same name', async () => {
    const one = await social('corp', await idp.sign({ name: 'Same Name' }));
    const two = await social('corp', await idp.sign({ name: 'Same Name' }));
    assert.equal(one.status, 200, one.text);
    assert.equal(two.status, 200, two.text);
    assert.notEqual(one.body.user.handle, two.body.user.handle);
    assert.notEqual(one.body.user.id, two.body.user.id);
  });

  it('accepts the extra audiences of _AUDIENCES, and refuses any other', async () => {
    assert.equal((await social('corp', await idp.sign({ aud: 'plaza-ios' }))).status, 200);
    assert.equal((await social('corp', await idp.sign({ aud: ['someone-else', 'plaza-android'] }))).status, 200);
    assertRefused(await social('corp', await idp.sign({ aud: 'another-app' })));
    // Google's client ids are Google's: the corp provider's are not among them.
    assertRefused(await social('google', await idp.sign({ aud: 'plaza-web' })));
  });

  it('refuses a token of another issuer, even signed with the right key', async () => {
    assertRefused(await social('corp', await idp.sign({ iss: 'https://evil.example' })));
    assertRefused(await social('corp', await idp.sign({ iss: `${idp.issuer}/` })));
  });

  it('refuses an expired token and one issued in the future, allowing a minute of clock skew', async () => {
    assertRefused(await social('corp', await idp.sign({ iat: now() - 7200, exp: now() - 3600 })));
    assertRefused(await social('corp', await idp.sign({ iat: now() - 7200, exp: now() - 120 })));
    assertRefused(await social('corp', await idp.sign({ iat: now() + 3600, exp: now() + 7200 })));
    assert.equal((await social('corp', await idp.sign({ iat: now() - 600, exp: now() - 20 }))).status, 200, 'expired 20 s ago: within the skew');
    assert.equal((await social('corp', await idp.sign({ iat: now() + 20, exp: now() + 600 }))).status, 200, 'issued 20 s ahead: within the skew');
  });

  it('refuses a token signed with another key under the provider key id', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    assertRefused(await social('corp', await idp.sign({}, { key: privateKey })));
  });

  it('refuses alg none, and an HMAC keyed with the public key', async () => {
    const claims = { iss: idp.issuer, aud: 'plaza-web', sub: randomUUID(), iat: now(), exp: now() + 600 };
    const unsigned = `${segment({ alg: 'none', typ: 'JWT' })}.${segment(claims)}.`;
    assertRefused(await social('corp', unsigned));
    const withKid = `${segment({ alg: 'none', kid: idp.publicJwk().kid })}.${segment(claims)}.`;
    assertRefused(await social('corp', withKid));

    const publicPem = await exportSPKI((await importJWK(idp.publicJwk(), 'RS256', { extractable: true })) as CryptoKey);
    for (const secret of [publicPem, JSON.stringify(idp.publicJwk())]) {
      const forged = await new SignJWT(claims as JWTPayload)
        .setProtectedHeader({ alg: 'HS256', kid: idp.publicJwk().kid })
        .sign(new TextEncoder().encode(secret));
      assertRefused(await social('corp', forged));
    }
  });

  it('refuses what is not a JWT at all', async () => {
    for (const token of ['not-a-token', 'a.b.c', `${segment({ alg: 'RS256' })}.${segment('x')}.sig`]) {
      assertRefused(await social('corp', token));
    }
  });

  it('fetches the keys again when a token names an unknown one (a rotation)', async () => {
    const before = await social('rotating', await rotating.sign({}));
    assert.equal(before.status, 200, before.text);
    const fetched = rotating.jwksFetches();
    await rotating.rotate();
    // Within the cooldown the key set is not fetched again: a flood of made-up key ids costs the provider nothing.
    assertRefused(await social('rotating', await rotating.sign({})));
    assert.equal(rotating.jwksFetches(), fetched);
    await sleep(REFRESH_COOLDOWN_SECONDS * 1000 + 200);
    const after = await social('rotating', await rotating.sign({}));
    assert.equal(after.status, 200, after.text);
    assert.equal(rotating.jwksFetches(), fetched + 1);
  });

  it('accepts an ID token once', async () => {
    const token = await idp.sign({});
    assert.equal((await social('corp', token)).status, 200);
    assertRefused(await social('corp', token));
    const racing = await Promise.all([1, 2, 3].map(async () => social('corp', token)));
    for (const answer of racing) assertRefused(answer);
    const fresh = await idp.sign({});
    const concurrent = await Promise.all([social('corp', fresh), social('corp', fresh)]);
    assert.deepEqual(concurrent.map((answer) => answer.status).sort(), [200, 401]);
  });

  it('checks the nonce when the app sends one; Apple hashes it', async () => {
    assertRefused(await social('corp', await idp.sign({ nonce: 'nonce-one' }), 'nonce-two'));
    assertRefused(await social('corp', await idp.sign({}), 'nonce-one'));
    assert.equal((await social('corp', await idp.sign({ nonce: 'nonce-one' }), 'nonce-one')).status, 200);

    const raw = `raw-${randomUUID()}`;
    const hashed = createHash('sha256').update(raw).digest('hex');
    const apple = await social('apple', await idp.sign({ aud: 'com.example.plaza', nonce: hashed, email: `${randomUUID()}@privaterelay.example`, email_verified: 'true' }), raw);
    assert.equal(apple.status, 200, apple.text);
    assert.deepEqual(apple.body.user.providers, ['apple']);
    assert.match(apple.body.user.email, /@privaterelay\.example$/, 'Apple says "true" as a string');
    assertRefused(await social('apple', await idp.sign({ aud: 'com.example.plaza', nonce: hashed }), hashed));
  });

  it('signs in with Google tokens for any of its client ids', async () => {
    const answer = await social('google', await idp.sign({ aud: 'google-android.apps.example', given_name: 'Grace', family_name: 'Hopper' }));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.user.name, 'Grace Hopper');
    assert.deepEqual(answer.body.user.providers, ['google']);
  });

  it('keeps an email the provider did not verify out of the account', async () => {
    const owner = await signUp(api);
    const answer = await social('corp', await idp.sign({ name: 'Unverified', email: owner.user.email, email_verified: false }));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.user.email, null);
    const noFlag = await social('corp', await idp.sign({ name: 'No flag', email: `nf-${randomUUID()}@corp.example` }));
    assert.equal(noFlag.status, 200, noFlag.text);
    assert.equal(noFlag.body.user.email, null);
  });

  it('never links to an account by its email: 409 account_exists', async () => {
    const owner = await signUp(api);
    const sub = randomUUID();
    const answer = await social('corp', await idp.sign({ sub, email: owner.user.email.toUpperCase(), email_verified: true }));
    assertRefused(answer, 'account_exists', 409);
    const account = await api.get('/v1/account', { token: owner.accessToken });
    assert.deepEqual(account.body.providers, ['password']);
  });

  it('answers 502 provider_unavailable, within the timeout, when the provider is down or silent', async () => {
    for (const provider of ['down', 'slow']) {
      const started = Date.now();
      const answer = await social(provider, await idp.sign({}));
      const took = Date.now() - started;
      assertRefused(answer, 'provider_unavailable', 502);
      assert.ok(took < PROVIDER_TIMEOUT_MS + 2000, `${provider} took ${took} ms`);
    }
    // A provider that recovers is asked again: its failure was not kept.
    const started = Date.now();
    assertRefused(await social('slow', await idp.sign({})), 'provider_unavailable', 502);
    assert.ok(Date.now() - started >= PROVIDER_TIMEOUT_MS - 100, 'asked again, and waited for again');
    // The log line travels through a pipe of its own: it may arrive after the answer.
    await eventually(async () => assert.match(server.output(), /"provider":"slow".*could not be asked for its keys/, 'the operator is told why'));
  });

  it('answers 502 when the discovery document names another issuer than the one configured', async () => {
    assertRefused(await social('mismatch', await idp.sign({ iss: `${idp.issuer}/` })), 'provider_unavailable', 502);
    await eventually(async () => assert.match(server.output(), /"provider":"mismatch".*could not be asked for its keys/));
  });

  it('refuses unknown providers, and a body without a token', async () => {
    assertRefused(await social('facebook', await idp.sign({})), 'invalid_request', 400);
    assertRefused(await social('password', await idp.sign({})), 'invalid_request', 400);
    const bad = await api.post('/v1/auth/social', { provider: 'corp' });
    assertRefused(bad, 'invalid_request', 400);
  });
});

describe('social sign-in throttling', () => {
  it("counts social sign-ins against the address's login budget, before asking the provider", async () => {
    const throttled = await startApp({
      LOGIN_RATE_LIMIT_PER_IP: '2',
      AUTH_OIDC_PROVIDERS: 'corp',
      AUTH_OIDC_CORP_ISSUER: await closedIssuer(),
      AUTH_OIDC_CORP_CLIENT_ID: 'plaza-web',
      AUTH_OIDC_CORP_CLIENT_SECRET: 'secret',
    });
    try {
      const throttledApi = client(throttled);
      const attempt = () => throttledApi.post('/v1/auth/social', { provider: 'corp', token: 'a.b.c' });
      assertRefused(await attempt(), 'provider_unavailable', 502);
      assertRefused(await attempt(), 'provider_unavailable', 502);
      const refused = await attempt();
      assertRefused(refused, 'rate_limited', 429);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
    } finally {
      await throttled.close();
    }
  });
});

describe('linking and unlinking providers', () => {
  it('links a provider proven by a fresh token, and lists it', async () => {
    const user = await signUp(api);
    const sub = randomUUID();
    const linked = await api.post('/v1/account/identities/corp', { token: await idp.sign({ sub }) }, { token: user.accessToken });
    assert.equal(linked.status, 200, linked.text);
    assert.deepEqual(linked.body.providers, ['password', 'corp']);
    const signedIn = await social('corp', await idp.sign({ sub }));
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.equal(signedIn.body.user.id, user.user.id);
    assert.equal(signedIn.body.created, false);

    // Linking it again is harmless; another account at the same provider is not linked beside it.
    const again = await api.post('/v1/account/identities/corp', { token: await idp.sign({ sub }) }, { token: user.accessToken });
    assert.equal(again.status, 200, again.text);
    const second = await api.post('/v1/account/identities/corp', { token: await idp.sign({}) }, { token: user.accessToken });
    assertRefused(second, 'provider_linked', 409);

    const other = await signUp(api);
    const stolen = await api.post('/v1/account/identities/corp', { token: await idp.sign({ sub }) }, { token: other.accessToken });
    assertRefused(stolen, 'identity_taken', 409);
    const forged = await api.post('/v1/account/identities/google', { token: await idp.sign({ aud: 'nobody' }) }, { token: other.accessToken });
    assertRefused(forged, 'invalid_social_token', 401);
    assertRefused(await api.post('/v1/account/identities/facebook', { token: 'x' }, { token: other.accessToken }), 'not_found', 404);
  });

  it('unlinks a provider, but never the last way to sign in', async () => {
    const first = await social('corp', await idp.sign({}));
    assert.equal(first.status, 200, first.text);
    const token = first.body.accessToken;
    assertRefused(await api.delete('/v1/account/identities/corp', undefined, { token }), 'last_sign_in_method', 409);
    assertRefused(await api.delete('/v1/account/identities/google', undefined, { token }), 'not_found', 404);

    const google = await api.post('/v1/account/identities/google', { token: await idp.sign({ aud: 'google-web.apps.example' }) }, { token });
    assert.equal(google.status, 200, google.text);
    assert.deepEqual(google.body.providers, ['corp', 'google']);
    const unlinked = await api.delete('/v1/account/identities/corp', undefined, { token });
    assert.equal(unlinked.status, 204, unlinked.text);
    assert.deepEqual((await api.get('/v1/account', { token })).body.providers, ['google']);
    assertRefused(await api.delete('/v1/account/identities/google', undefined, { token }), 'last_sign_in_method', 409);

    // A password account may drop its only provider.
    const user = await signUp(api);
    await api.post('/v1/account/identities/corp', { token: await idp.sign({}) }, { token: user.accessToken });
    assert.equal((await api.delete('/v1/account/identities/corp', undefined, { token: user.accessToken })).status, 204);
    assert.deepEqual((await api.get('/v1/account', { token: user.accessToken })).body.providers, ['password']);
  });

  it('forgets the identities of a deleted account: the provider account starts afresh', async () => {
    const user = await signUp(api);
    const sub = randomUUID();
    assert.equal((await api.post('/v1/account/identities/corp', { token: await idp.sign({ sub }) }, { token: user.accessToken })).status, 200);
    assert.equal((await api.delete('/v1/account', { password: user.password }, { token: user.accessToken })).status, 204);
    const again = await social('corp', await idp.sign({ sub }));
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.created, true);
    assert.notEqual(again.body.user.id, user.user.id);
  });
});
