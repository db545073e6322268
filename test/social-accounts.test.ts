import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { signUp } from './helpers/factories.ts';
import { client, type Answer } from './helpers/http.ts';
import { startIdentityProvider, startProviderApi, type IdentityProvider, type ProviderApiAnswer, type ProviderApiRequest } from './helpers/identity-provider.ts';
import { imageSample } from './helpers/media-samples.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

/**
 * What a social-only account can do without a password: set one later, and delete itself, each
 * re-confirmed by a fresh sign-in with its provider instead; and the picture its provider offers,
 * copied into Plaza's storage on its first sign-in. Plaza runs as its own process trusting the
 * stand-in providers' test CA (see `identity-provider.ts`); a session is made stale by moving its
 * sign-in time back in the database (with the server down on PGlite, which one process opens).
 */

const PROVIDER_TIMEOUT_MS = 1500;
/** AVATAR_MAX_BYTES of the server under test: small, so a picture can be too large without being huge. */
const AVATAR_MAX_BYTES = 100_000;
const GITHUB_CLIENT_ID = 'github-client';
const FACEBOOK_APP_ID = '5550001';
const KAKAO_APP_ID = '777';

let idp: IdentityProvider;
let providerApi: Awaited<ReturnType<typeof startProviderApi>>;
let storage: ServerStorage;
let server: ServerProcess;
let serverEnv: Record<string, string>;
let png: Buffer;
const api = client(async () => server.url);

/** The access-token providers' APIs: a token `<provider>-<id>` is user `<id>`'s, whose picture is at `/<provider>/picture`. */
function providerAnswer(request: ProviderApiRequest): ProviderApiAnswer {
  const [, provider, ...rest] = request.path.split('/');
  const path = `/${rest.join('/')}`;
  const picture = `${providerApi.url}/${provider}/picture`;
  const bearer = /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
  const token = bearer ?? request.query.get('input_token') ?? request.query.get('access_token') ?? (request.body === '' ? '' : (JSON.parse(request.body) as { access_token: string }).access_token);
  const id = token.startsWith(`${provider}-`) ? token.slice(provider!.length + 1) : undefined;
  const json = (body: unknown): ProviderApiAnswer => ({ status: 200, json: body });
  if (path === '/picture') return { status: 200, bytes: png, contentType: 'image/png' };
  if (id === undefined) return { status: 401, json: { message: 'Bad credentials' } };
  switch (`${request.method} /${provider}${path}`) {
    case 'GET /naver/v1/nid/me':
      return json({ resultcode: '00', message: 'success', response: { id, name: 'Naver Ada', profile_image: picture } });
    case 'GET /kakao/v1/user/access_token_info':
      return json({ id: Number(id), expires_in: 7199, app_id: Number(KAKAO_APP_ID) });
    case 'GET /kakao/v2/user/me':
      return json({ id: Number(id), kakao_account: { profile: { nickname: 'Kakao Ada', profile_image_url: picture, is_default_image: false } } });
    case 'GET /facebook/debug_token':
      return json({ data: { app_id: FACEBOOK_APP_ID, is_valid: true, user_id: id } });
    case 'GET /facebook/me':
      assert.match(request.query.get('fields') ?? '', /(^|,)picture/);
      return json({ id, name: 'Facebook Ada', picture: { data: { url: picture, is_silhouette: false, width: 200, height: 200 } } });
    case `POST /github/applications/${GITHUB_CLIENT_ID}/token`:
      return json({ user: { id: Number(id), login: `ada${id}` } });
    case 'GET /github/user':
      return json({ id: Number(id), login: `ada${id}`, name: null, avatar_url: picture });
    case 'GET /github/user/emails':
      return json([]);
    default:
      return { status: 404, json: { message: 'Not Found' } };
  }
}

before(async () => {
  png = await imageSample('png');
  [idp, providerApi, storage] = await Promise.all([startIdentityProvider(), startProviderApi(providerAnswer), serverStorage()]);
  serverEnv = {
    ...storage.env,
    NODE_EXTRA_CA_CERTS: idp.caFile,
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    AUTH_PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
    AVATAR_MAX_BYTES: String(AVATAR_MAX_BYTES),
    AUTH_OIDC_PROVIDERS: 'corp',
    AUTH_OIDC_CORP_ISSUER: idp.issuer,
    AUTH_OIDC_CORP_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_CORP_CLIENT_SECRET: 'corp-secret',
    AUTH_GOOGLE_ISSUER: idp.issuer,
    AUTH_GOOGLE_CLIENT_ID: 'google-web',
    AUTH_GOOGLE_CLIENT_SECRET: 'google-secret',
    AUTH_NAVER_CLIENT_ID: 'naver-client',
    AUTH_NAVER_CLIENT_SECRET: 'naver-secret',
    AUTH_NAVER_API_URL: `${providerApi.url}/naver`,
    AUTH_KAKAO_CLIENT_ID: 'kakao-rest-api-key',
    AUTH_KAKAO_APP_ID: KAKAO_APP_ID,
    AUTH_KAKAO_API_URL: `${providerApi.url}/kakao`,
    AUTH_FACEBOOK_CLIENT_ID: FACEBOOK_APP_ID,
    AUTH_FACEBOOK_CLIENT_SECRET: 'facebook-secret',
    AUTH_FACEBOOK_API_URL: `${providerApi.url}/facebook`,
    AUTH_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID,
    AUTH_GITHUB_CLIENT_SECRET: 'github-secret',
    AUTH_GITHUB_API_URL: `${providerApi.url}/github`,
  };
  server = await startServer(serverEnv);
});

after(async () => {
  await server?.stop();
  await Promise.all([idp?.close(), providerApi?.close(), storage?.release()]);
});

type SocialSession = { accessToken: string; refreshToken: string; user: { id: string; email: string | null; providers: string[]; avatarUrl: string | null; handle: string } };

/** Signs in with a fresh corp ID token for `sub` (a new provider account by default), asserting the 200. */
async function corpSignIn(claims: Record<string, unknown> = {}): Promise<SocialSession & { sub: string }> {
  const sub = (claims.sub as string | undefined) ?? randomUUID();
  const answer = await api.post('/v1/auth/social', { provider: 'corp', token: await idp.sign({ sub, name: 'Ada Corp', ...claims }) });
  assert.equal(answer.status, 200, answer.text);
  return { ...answer.body, sub };
}

/** A new social-only user with a verified email, as the provider vouches for it. */
async function socialOnlyUser(): Promise<SocialSession & { sub: string; email: string }> {
  const email = `ada-${randomUUID().slice(0, 8)}@corp.example`;
  const session = await corpSignIn({ email, email_verified: true });
  assert.deepEqual(session.user.providers, ['corp']);
  return { ...session, email };
}

function assertProblem(answer: Answer, status: number, code: string) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body.code, code, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
}

const setPassword = (token: string, body: Record<string, string>) => api.put('/v1/account/password', body, { token });
const login = (email: string, password: string) => api.post('/v1/auth/login', { email, password });

/**
 * Moves the sign-in time of every session of these users an hour back, past the freshness window:
 * directly on PostgreSQL, with the server stopped on PGlite (tokens outlive the restart).
 */
async function ageSignIns(userIds: string[]): Promise<void> {
  const statement = `update auth_sessions set created_at = created_at - interval '1 hour' where user_id = any($1)`;
  if (serverEnv.DATABASE_URL !== undefined) {
    const db = new pg.Client({ connectionString: serverEnv.DATABASE_URL });
    await db.connect();
    try {
      assert.ok((await db.query(statement, [userIds])).rowCount! >= userIds.length);
    } finally {
      await db.end();
    }
    return;
  }
  await server.stop();
  const db = await PGlite.create({ dataDir: join(serverEnv.DATA_DIR!, 'db') });
  try {
    assert.ok((await db.query(statement, [userIds])).affectedRows! >= userIds.length);
  } finally {
    await db.close();
  }
  server = await startServer(serverEnv);
}

describe('a social-only account without a password', () => {
  it('sets a password from a fresh sign-in, then logs in with it; other sessions end', async () => {
    const first = await socialOnlyUser();
    const second = await corpSignIn({ sub: first.sub });
    const password = 'a password set later';
    assert.equal((await setPassword(second.accessToken, { newPassword: password })).status, 204);

    const account = await api.get('/v1/account', { token: second.accessToken });
    assert.equal(account.status, 200, account.text);
    assert.deepEqual(account.body.providers, ['password', 'corp']);
    assert.equal((await api.get('/v1/account', { token: first.accessToken })).status, 401);
    const loggedIn = await login(first.email, password);
    assert.equal(loggedIn.status, 200, loggedIn.text);
    assert.equal(loggedIn.body.user.id, first.user.id);

    // From now on, like any password account: changing it takes the current one.
    assertProblem(await setPassword(second.accessToken, { newPassword: 'yet another password' }), 400, 'invalid_request');
    assertProblem(await setPassword(second.accessToken, { currentPassword: 'not it at all', newPassword: 'yet another password' }), 403, 'invalid_credentials');
    assert.equal((await setPassword(second.accessToken, { currentPassword: password, newPassword: 'yet another password' })).status, 204);
  });

  it('refuses a currentPassword it does not have, and a password without an email to log in with', async () => {
    const user = await socialOnlyUser();
    const answer = await setPassword(user.accessToken, { currentPassword: 'anything at all', newPassword: 'a password set later' });
    assertProblem(answer, 400, 'invalid_request');
    assert.equal(answer.body.errors[0].path, '/currentPassword');

    const emailless = await corpSignIn();
    assert.equal(emailless.user.email, null);
    assertProblem(await setPassword(emailless.accessToken, { newPassword: 'a password set later' }), 409, 'email_required');
    assert.deepEqual((await api.get('/v1/account', { token: emailless.accessToken })).body.providers, ['corp']);
  });

  it('keeps its last provider until it has a password, then may unlink it', async () => {
    const user = await socialOnlyUser();
    assertProblem(await api.delete('/v1/account/identities/corp', undefined, { token: user.accessToken }), 409, 'last_sign_in_method');
    assert.equal((await setPassword(user.accessToken, { newPassword: 'a password set later' })).status, 204);
    assert.equal((await api.delete('/v1/account/identities/corp', undefined, { token: user.accessToken })).status, 204);
    assert.deepEqual((await api.get('/v1/account', { token: user.accessToken })).body.providers, ['password']);
    assert.equal((await login(user.email, 'a password set later')).status, 200);
  });

  it('is deleted from a fresh sign-in without a password, with no body or an empty one', async () => {
    for (const body of [undefined, {}]) {
      const user = await socialOnlyUser();
      assert.equal((await api.delete('/v1/account', body, { token: user.accessToken })).status, 204);
      assert.equal((await api.get('/v1/account', { token: user.accessToken })).status, 401);
      assert.equal((await api.get(`/v1/users/${user.user.handle}`)).status, 404);
      // The provider account starts afresh.
      assert.notEqual((await corpSignIn({ sub: user.sub })).user.id, user.user.id);
    }
    const user = await socialOnlyUser();
    assertProblem(await api.delete('/v1/account', { password: 'anything at all' }, { token: user.accessToken }), 400, 'invalid_request');
    assert.equal((await api.get('/v1/account', { token: user.accessToken })).status, 200);
  });

  it('refuses both from a stale session, changing nothing, until the user signs in again', async () => {
    const setter = await socialOnlyUser();
    const deleter = await socialOnlyUser();
    const withPassword = await signUp(api);
    await ageSignIns([setter.user.id, deleter.user.id, withPassword.user.id]);

    const refused = await setPassword(setter.accessToken, { newPassword: 'a password set later' });
    assertProblem(refused, 403, 'reauthentication_required');
    assert.match(refused.body.detail, /sign in with your provider again/);
    assert.deepEqual((await api.get('/v1/account', { token: setter.accessToken })).body.providers, ['corp']);
    assertProblem(await login(setter.email, 'a password set later'), 401, 'invalid_credentials');
    // Refreshing keeps the session's sign-in time.
    const refreshed = await api.post('/v1/auth/refresh', { refreshToken: setter.refreshToken });
    assert.equal(refreshed.status, 200, refreshed.text);
    assertProblem(await setPassword(refreshed.body.accessToken, { newPassword: 'a password set later' }), 403, 'reauthentication_required');

    assertProblem(await api.delete('/v1/account', undefined, { token: deleter.accessToken }), 403, 'reauthentication_required');
    assert.equal((await api.get('/v1/account', { token: deleter.accessToken })).status, 200);

    // A password account's password still confirms it, whatever the session's age.
    assert.equal((await api.delete('/v1/account', { password: withPassword.password }, { token: withPassword.accessToken })).status, 204);

    // Signing in with the provider again is the remedy.
    const again = await corpSignIn({ sub: setter.sub });
    assert.equal((await setPassword(again.accessToken, { newPassword: 'a password set later' })).status, 204);
    assert.equal((await login(setter.email, 'a password set later')).status, 200);
  });
});

describe('the provider picture, copied on the first sign-in', () => {
  /** The image a user's avatarUrl serves, which must be Plaza's own WebP. */
  async function assertOwnAvatar(user: SocialSession['user']) {
    assert.match(user.avatarUrl ?? '', /^\/v1\/avatars\/\w+$/);
    for (const path of [user.avatarUrl!, `/v1/users/${user.handle}/avatar`]) {
      const image = await fetch(`${server.url}${path}`);
      assert.equal(image.status, 200, path);
      assert.equal(image.headers.get('content-type'), 'image/webp');
      assert.equal(Buffer.from(await image.arrayBuffer()).subarray(8, 12).toString('latin1'), 'WEBP');
    }
  }

  /** A chain of `count` redirects that ends at `target`. */
  const redirects = (count: number, target: string): string =>
    count === 0 ? target : redirects(count - 1, idp.servePicture({ status: 302, location: target }));

  /** The error message the server logged for not copying this user's picture. */
  async function pictureRefusal(userId: string): Promise<string> {
    return eventually(async () => {
      const line = server
        .output()
        .split('\n')
        .find((entry) => entry.includes(`"userId":"${userId}"`) && entry.includes('the provider picture was not copied'));
      assert.ok(line !== undefined, `no log line for ${userId}`);
      return String((JSON.parse(line) as { err: { message: string } }).err.message);
    });
  }

  it("copies an ID token's picture into Plaza's storage, following redirects", async () => {
    const user = await corpSignIn({ picture: redirects(3, idp.servePicture({ body: png, contentType: 'image/png' })) });
    await assertOwnAvatar(user.user);
    assert.doesNotMatch(JSON.stringify(user.user), /pictures/);
    // Only on the first sign-in: a later one leaves the image as it is.
    const again = await corpSignIn({ sub: user.sub, picture: idp.servePicture({ body: await imageSample('jpeg'), contentType: 'image/jpeg' }) });
    assert.equal(again.user.avatarUrl, user.user.avatarUrl);
  });

  for (const provider of ['naver', 'kakao', 'facebook', 'github']) {
    it(`copies ${provider}'s picture of an access-token sign-in`, async () => {
      const answer = await api.post('/v1/auth/social', { provider, token: `${provider}-${Math.floor(Math.random() * 1e9)}` });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.created, true);
      await assertOwnAvatar(answer.body.user);
    });
  }

  it('signs in without an image when the picture is no image, too large, not https, too far redirected, or on a non-public address', async () => {
    // Each with the reason the operator is told.
    const pictures: [string, string, RegExp][] = [
      ['not an image', idp.servePicture({ body: Buffer.from('<html>not a picture</html>'), contentType: 'text/html' }), /are accepted/],
      ['too large', idp.servePicture({ body: Buffer.concat([png, Buffer.alloc(AVATAR_MAX_BYTES)]), contentType: 'image/png' }), /larger than 100000 bytes/],
      ['not found', idp.servePicture({ status: 404, body: Buffer.from('gone') }), /status 404/],
      ['http', 'http://127.0.0.1:9/picture.png', /not an https URL/],
      ['redirected to http', idp.servePicture({ status: 302, location: 'http://127.0.0.1:9/picture.png' }), /not an https URL/],
      ['redirected too often', redirects(4, idp.servePicture({ body: png, contentType: 'image/png' })), /more than 3 redirects/],
      // Another origin than the provider's, on a loopback address (by number or by name): never fetched.
      ['a non-public address', `${providerApi.url}/naver/picture`, /127\.0\.0\.1 is not a public address/],
      ['a name of a non-public address', `${providerApi.url.replace('127.0.0.1', 'localhost')}/naver/picture`, /localhost has a non-public address/],
    ];
    for (const [why, picture, reason] of pictures) {
      const user = await corpSignIn({ picture });
      assert.equal(user.user.avatarUrl, null, why);
      assert.equal((await api.get(`/v1/users/${user.user.handle}/avatar`)).status, 404, why);
      assert.match(await pictureRefusal(user.user.id), reason, why);
    }
    assert.equal((await corpSignIn({ picture: 'not a URL' })).user.avatarUrl, null);
    // Where the picture was is logged, not its path or query (which may carry a provider's signature).
    assert.doesNotMatch(server.output(), /\/pictures\//);
  });

  it('signs in without an image, within the bound, when the picture never comes', async () => {
    const started = Date.now();
    const user = await corpSignIn({ picture: idp.servePicture('hang') });
    const took = Date.now() - started;
    assert.equal(user.user.avatarUrl, null);
    assert.ok(took >= PROVIDER_TIMEOUT_MS && took < PROVIDER_TIMEOUT_MS + 2500, `took ${took} ms`);
    assert.match(await pictureRefusal(user.user.id), /did not arrive within 1500 ms/);
  });
});
