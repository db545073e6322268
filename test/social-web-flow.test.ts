import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { signUp } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import {
  Browser,
  closedIssuer,
  startIdentityProvider,
  startProviderApi,
  type BrowserAnswer,
  type IdentityProvider,
  type ProviderApiAnswer,
  type ProviderApiRequest,
} from './helpers/identity-provider.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';

/**
 * The web sign-in (`/v1/auth/oauth/{provider}/authorize` → provider → `/callback`) through a real
 * OpenID provider (`oidc-provider`, its login and consent pages driven over HTTP with a cookie jar),
 * for a generic provider and Google, and through a stand-in of GitHub's authorize, token and user
 * endpoints. Plaza runs as its own process, trusting the providers' test CA as an operator would
 * (NODE_EXTRA_CA_CERTS). Its PUBLIC_URL is an origin nothing listens on, as a proxy's would be: the
 * test browser sends what is addressed to it to the port the server listens on.
 */

const PUBLIC_URL = 'https://plaza.test';
/** Where the apps of this file take their sessions: one web page (with a query of its own), one native app. */
const WEB_APP = 'https://app.example/signed-in';
const NATIVE_APP = 'com.example.plaza:/oauth';
/** AUTH_PROVIDER_TIMEOUT_MS: a provider that never answers costs this long. */
const PROVIDER_TIMEOUT_MS = 1500;
const GITHUB_CLIENT_ID = 'github-web-client';
const GITHUB_SECRET = 'github-web-secret';

let idp: IdentityProvider;
let github: Awaited<ReturnType<typeof startProviderApi>>;
let apple: Awaited<ReturnType<typeof startProviderApi>>;
let storage: ServerStorage;
let server: ServerProcess;
const api = client(async () => server.url);

/** What the GitHub stand-in's token endpoint does now. */
let githubTokens: 'answer' | 'hang' | 'fail' = 'answer';
/** The GitHub stand-in's codes: the PKCE challenge each was issued for, and whose it is. */
const githubCodes = new Map<string, { challenge: string; redirectUri: string; user: { id: number; login: string; email: string } }>();
const githubAccessTokens = new Map<string, { id: number; login: string; email: string }>();

/** GitHub's token endpoint, and the user endpoints the access-token check calls, as GitHub documents them. */
function answerAsGitHub(request: ProviderApiRequest): ProviderApiAnswer {
  if (request.method === 'POST' && request.path === '/login/oauth/access_token') {
    if (githubTokens === 'hang') return 'hang';
    if (githubTokens === 'fail') return { status: 503, text: 'unavailable' };
    const form = new URLSearchParams(request.body);
    const issued = githubCodes.get(form.get('code') ?? '');
    const challenge = createHash('sha256')
      .update(form.get('code_verifier') ?? '')
      .digest('base64url');
    const good =
      issued !== undefined &&
      form.get('client_id') === GITHUB_CLIENT_ID &&
      form.get('client_secret') === GITHUB_SECRET &&
      form.get('redirect_uri') === issued.redirectUri &&
      challenge === issued.challenge;
    githubCodes.delete(form.get('code') ?? '');
    // GitHub refuses a code with a 200.
    if (!good) return { status: 200, json: { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' } };
    const token = `gho_${randomBytes(18).toString('hex')}`;
    githubAccessTokens.set(token, issued.user);
    return { status: 200, json: { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' } };
  }
  const bearer = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
  if (request.method === 'POST' && request.path === `/applications/${GITHUB_CLIENT_ID}/token`) {
    const user = githubAccessTokens.get(String(JSON.parse(request.body).access_token));
    const basic = `Basic ${Buffer.from(`${GITHUB_CLIENT_ID}:${GITHUB_SECRET}`).toString('base64')}`;
    if (user === undefined || request.headers.authorization !== basic) return { status: 404, json: { message: 'Not Found' } };
    return { status: 200, json: { user: { id: user.id, login: user.login } } };
  }
  const user = githubAccessTokens.get(bearer);
  if (user === undefined) return { status: 401, json: { message: 'Bad credentials' } };
  if (request.path === '/user') return { status: 200, json: { id: user.id, login: user.login, name: null } };
  if (request.path === '/user/emails') return { status: 200, json: [{ email: user.email, primary: true, verified: true, visibility: 'private' }] };
  return { status: 404, json: { message: 'Not Found' } };
}

const APPLE_CLIENT_ID = 'com.example.plaza.web';
const APPLE_TEAM_ID = 'TEAM123456';
const APPLE_KEY_ID = 'KEY1234567';
/** The team's key Apple would hold the public half of, and the stand-in's own ID-token key. */
let appleTeamKey: { privateKey: CryptoKey; publicKey: CryptoKey };
let appleSigningKey: { privateKey: CryptoKey; publicJwk: JWK };
/** The client secrets the Apple stand-in was sent, one per code redeemed. */
const appleClientSecrets: string[] = [];
const appleCodes = new Map<string, { challenge: string; nonce: string; sub: string; email: string }>();

/**
 * Sign in with Apple's discovery document, keys and token endpoint, as Apple serves them: the
 * client secret posted in the body, an ES256 JWT of the team's key; ID tokens with
 * `email_verified` as a string, and no name in them.
 */
async function answerAsApple(request: ProviderApiRequest): Promise<ProviderApiAnswer> {
  const issuer = apple.url;
  if (request.path === '/.well-known/openid-configuration') {
    return {
      status: 200,
      json: {
        issuer,
        authorization_endpoint: `${issuer}/auth/authorize`,
        token_endpoint: `${issuer}/auth/token`,
        jwks_uri: `${issuer}/auth/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
      },
    };
  }
  if (request.path === '/auth/keys') return { status: 200, json: { keys: [appleSigningKey.publicJwk] } };
  if (request.method !== 'POST' || request.path !== '/auth/token') return { status: 404, json: {} };
  const form = new URLSearchParams(request.body);
  const secret = form.get('client_secret') ?? '';
  appleClientSecrets.push(secret);
  try {
    const { payload, protectedHeader } = await jwtVerify(secret, appleTeamKey.publicKey, { algorithms: ['ES256'], issuer: APPLE_TEAM_ID, audience: issuer, subject: APPLE_CLIENT_ID });
    assert.equal(protectedHeader.kid, APPLE_KEY_ID);
    // Apple refuses a client secret that lives longer than six months.
    assert.ok((payload.exp ?? Infinity) - (payload.iat ?? 0) <= 180 * 86_400);
  } catch {
    return { status: 400, json: { error: 'invalid_client' } };
  }
  const issued = appleCodes.get(form.get('code') ?? '');
  appleCodes.delete(form.get('code') ?? '');
  const verifier = createHash('sha256')
    .update(form.get('code_verifier') ?? '')
    .digest('base64url');
  if (issued === undefined || form.get('client_id') !== APPLE_CLIENT_ID || verifier !== issued.challenge) return { status: 400, json: { error: 'invalid_grant' } };
  const now = Math.floor(Date.now() / 1000);
  const idToken = await new SignJWT({ sub: issued.sub, nonce: issued.nonce, email: issued.email, email_verified: 'true', nonce_supported: true })
    .setProtectedHeader({ alg: 'RS256', kid: appleSigningKey.publicJwk.kid ?? '' })
    .setIssuer(issuer)
    .setAudience(APPLE_CLIENT_ID)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(appleSigningKey.privateKey);
  return { status: 200, json: { access_token: 'apple-access', token_type: 'Bearer', expires_in: 3600, id_token: idToken } };
}

before(async () => {
  appleTeamKey = await generateKeyPair('ES256', { extractable: true });
  const signing = await generateKeyPair('RS256', { extractable: true });
  appleSigningKey = { privateKey: signing.privateKey, publicJwk: { ...(await exportJWK(signing.publicKey)), kid: 'apple-key-1', alg: 'RS256', use: 'sig' } };
  const callback = (provider: string) => `${PUBLIC_URL}/v1/auth/oauth/${provider}/callback`;
  [idp, github, storage] = await Promise.all([
    startIdentityProvider({
      clients: [
        { client_id: 'plaza-web', client_secret: 'corp-secret', redirect_uris: [callback('corp')] },
        { client_id: 'google-web.apps.example', client_secret: 'google-secret', redirect_uris: [callback('google')] },
      ],
    }),
    startProviderApi(answerAsGitHub),
    serverStorage(),
  ]);
  apple = await startProviderApi(answerAsApple);
  server = await startServer({
    ...storage.env,
    NODE_EXTRA_CA_CERTS: idp.caFile,
    PUBLIC_URL,
    AUTH_REDIRECT_ALLOWLIST: `${WEB_APP}, ${NATIVE_APP}`,
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    AUTH_PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
    AUTH_OIDC_PROVIDERS: 'corp,down',
    AUTH_OIDC_CORP_ISSUER: idp.issuer,
    AUTH_OIDC_CORP_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_CORP_CLIENT_SECRET: 'corp-secret',
    AUTH_OIDC_DOWN_ISSUER: await closedIssuer(),
    AUTH_OIDC_DOWN_CLIENT_ID: 'plaza-web',
    AUTH_OIDC_DOWN_CLIENT_SECRET: 'down-secret',
    AUTH_GOOGLE_ISSUER: idp.issuer,
    AUTH_GOOGLE_CLIENT_ID: 'google-web.apps.example',
    AUTH_GOOGLE_CLIENT_SECRET: 'google-secret',
    AUTH_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID,
    AUTH_GITHUB_CLIENT_SECRET: GITHUB_SECRET,
    AUTH_GITHUB_OAUTH_URL: github.url,
    AUTH_GITHUB_API_URL: github.url,
    AUTH_APPLE_ISSUER: apple.url,
    AUTH_APPLE_CLIENT_ID: APPLE_CLIENT_ID,
    AUTH_APPLE_TEAM_ID: APPLE_TEAM_ID,
    AUTH_APPLE_KEY_ID: APPLE_KEY_ID,
    AUTH_APPLE_PRIVATE_KEY: await exportPKCS8(appleTeamKey.privateKey),
  });
});

after(async () => {
  await server?.stop();
  await Promise.all([idp?.close(), github?.close(), apple?.close(), storage?.release()]);
});

/** A fresh browser: PUBLIC_URL's origin reaches the server under test. */
function newBrowser(): Browser {
  return new Browser(idp.caFile, (url) => (url.startsWith(PUBLIC_URL) ? `${server.url}${url.slice(PUBLIC_URL.length)}` : url));
}

function authorizePath(provider: string, query: Record<string, string> = {}): string {
  return `${PUBLIC_URL}/v1/auth/oauth/${provider}/authorize?${new URLSearchParams({ redirect_uri: `${WEB_APP}?from=web`, ...query })}`;
}

/** The authorize step: asserts the redirect to the provider, and gives its URL. */
async function authorize(browser: Browser, provider: string, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<URL> {
  const answer = await browser.request(authorizePath(provider, query), { headers });
  assert.equal(answer.status, 302, answer.body);
  assert.ok(answer.location !== undefined);
  return new URL(answer.location);
}

/** Where a redirect to the app lands, its fragment parsed; asserts nothing of the session leaked into the query. */
function landing(answer: BrowserAnswer, app = `${WEB_APP}?from=web`, status = 302) {
  assert.equal(answer.status, status, answer.body);
  assert.ok(answer.location?.startsWith(`${app}#`), answer.location);
  const url = new URL(answer.location ?? '');
  assert.equal(url.search, new URL(app).search, 'the query is the app\'s own, nothing added');
  return new URLSearchParams(url.hash.slice(1));
}

/** A whole web sign-in at the OpenID provider as `login`: the landing's fragment. */
async function signInThroughIdp(browser: Browser, provider: string, login: string, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const toProvider = await authorize(browser, provider, query, headers);
  const back = await browser.signInAt(toProvider.href, login);
  return { back, fragment: landing(await browser.request(back), query.redirect_uri ?? `${WEB_APP}?from=web`) };
}

function newAccount(claims: Record<string, unknown> = {}) {
  const sub = randomUUID();
  idp.setAccount(sub, { email: `web-${sub.slice(0, 8)}@corp.example`, email_verified: true, name: 'Grace Hopper', ...claims });
  return sub;
}

function assertBadState(answer: BrowserAnswer) {
  assert.equal(answer.status, 400, answer.body);
  assert.equal(answer.location, undefined);
  const problem = JSON.parse(answer.body);
  assert.equal(problem.code, 'invalid_request');
  assert.equal(problem.errors[0].path, '/state');
  assert.doesNotMatch(answer.body, /accessToken|refreshToken/);
}

describe('social sign-in, web flow', () => {
  it('sends the browser to the provider with state, PKCE (S256) and a nonce, bound to the browser by a cookie', async () => {
    const browser = newBrowser();
    const url = await authorize(browser, 'corp');
    assert.equal(url.origin, idp.issuer);
    const params = Object.fromEntries(url.searchParams);
    assert.equal(params.response_type, 'code');
    assert.equal(params.client_id, 'plaza-web');
    assert.equal(params.redirect_uri, `${PUBLIC_URL}/v1/auth/oauth/corp/callback`);
    assert.equal(params.scope, 'openid email profile');
    assert.equal(params.code_challenge_method, 'S256');
    assert.match(params.code_challenge ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(params.state ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(params.nonce ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(browser.cookies(PUBLIC_URL).size, 1);
    const raw = await browser.request(authorizePath('corp'));
    assert.equal(raw.status, 302);
    // The same browser keeps its cookie: two tabs' sign-ins both stay good.
    assert.equal(browser.cookies(PUBLIC_URL).size, 1);
    const again = new URL(raw.location ?? '');
    assert.notEqual(again.searchParams.get('state'), params.state);
    assert.notEqual(again.searchParams.get('code_challenge'), params.code_challenge);
  });

  it('sets the binding cookie HttpOnly, Secure and SameSite=None (Apple posts back cross-site)', async () => {
    const response = await fetch(`${server.url}/v1/auth/oauth/corp/authorize?${new URLSearchParams({ redirect_uri: WEB_APP })}`, { redirect: 'manual' });
    assert.equal(response.status, 302);
    const cookie = response.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^plaza_oauth_browser=[A-Za-z0-9_-]{43};/);
    for (const attribute of [/HttpOnly/, /Secure/, /SameSite=None/, /Path=\/v1\/auth\/oauth\//, /Max-Age=600/]) assert.match(cookie, attribute);
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  it('signs a generic OpenID Connect user up, then in, with the session in the fragment only', async () => {
    const sub = newAccount();
    const browser = newBrowser();
    const { back, fragment } = await signInThroughIdp(browser, 'corp', sub);
    assert.ok(back.startsWith(`${PUBLIC_URL}/v1/auth/oauth/corp/callback?`), back);
    assert.equal(fragment.get('created'), 'true');
    const user = JSON.parse(fragment.get('user') ?? '{}');
    assert.equal(user.name, 'Grace Hopper');
    assert.match(user.email, /@corp\.example$/);
    assert.deepEqual(user.providers, ['corp']);
    assert.ok(Number(fragment.get('expiresIn')) > 0);
    const account = await api.get('/v1/account', { token: fragment.get('accessToken') ?? '' });
    assert.equal(account.status, 200, account.text);
    assert.equal(account.body.id, user.id);
    assert.equal((await api.post('/v1/auth/refresh', { refreshToken: fragment.get('refreshToken') })).status, 200);

    // The same callback again (a replay, or the back button) is refused, and gets no session.
    assertBadState(await browser.request(back));

    const second = await signInThroughIdp(newBrowser(), 'corp', sub);
    assert.equal(second.fragment.get('created'), 'false');
    assert.equal(JSON.parse(second.fragment.get('user') ?? '{}').id, user.id);
  });

  it('signs a Google user in through the issuer of AUTH_GOOGLE_ISSUER, back to a native app', async () => {
    const sub = newAccount({ name: 'Ada Google' });
    const browser = newBrowser();
    const toProvider = await authorize(browser, 'google', { redirect_uri: `${NATIVE_APP}/done` });
    assert.equal(toProvider.searchParams.get('client_id'), 'google-web.apps.example');
    const back = await browser.signInAt(toProvider.href, sub);
    const fragment = landing(await browser.request(back), `${NATIVE_APP}/done`);
    assert.equal(fragment.get('created'), 'true');
    const account = await api.get('/v1/account', { token: fragment.get('accessToken') ?? '' });
    assert.equal(account.status, 200, account.text);
    assert.equal(account.body.name, 'Ada Google');
    assert.deepEqual(account.body.providers, ['google']);
  });

  it('refuses a redirect_uri that is not allow-listed, and an unknown provider', async () => {
    const browser = newBrowser();
    for (const redirect of [
      'https://evil.example/signed-in',
      'https://app.example/signed-in-elsewhere',
      'https://app.example.evil/signed-in',
      'https://app.example/signed-in/../admin',
      'https://app.example@evil.example/signed-in',
      `${WEB_APP}#already`,
      'com.example.plaza:/oauthx',
      'not a url',
    ]) {
      const answer = await browser.request(authorizePath('corp', { redirect_uri: redirect }));
      assert.equal(answer.status, 400, `${redirect}: ${answer.body}`);
      assert.equal(answer.location, undefined);
      assert.equal(JSON.parse(answer.body).errors[0].path, '/redirect_uri');
    }
    const missing = await browser.request(`${PUBLIC_URL}/v1/auth/oauth/corp/authorize`);
    assert.equal(missing.status, 400, missing.body);
    for (const provider of ['facebook', 'nobody']) {
      const unknown = await browser.request(authorizePath(provider));
      assert.equal(unknown.status, 404, unknown.body);
    }
  });

  it('refuses a forged state, and one used from another browser', async () => {
    const sub = newAccount();
    const browser = newBrowser();
    const back = await browser.signInAt((await authorize(browser, 'corp')).href, sub);
    const forged = new URL(back);
    forged.searchParams.set('state', randomBytes(32).toString('base64url'));
    assertBadState(await browser.request(forged.href));
    const noState = new URL(back);
    noState.searchParams.delete('state');
    assertBadState(await browser.request(noState.href));
    // Neither spent the real state.
    assert.equal(landing(await browser.request(back)).get('created'), 'true');

    // Another sign-in's callback in a browser without the cookie, then in one with a cookie of its own.
    const other = newBrowser();
    await authorize(other, 'corp');
    for (const stranger of [newBrowser(), other]) {
      const started = newBrowser();
      const stolen = await started.signInAt((await authorize(started, 'corp')).href, sub);
      assertBadState(await stranger.request(stolen));
      // The attempt spent it: not even the browser that started it can finish now.
      assertBadState(await started.request(stolen));
    }
  });

  it('refuses a state on another provider\'s callback', async () => {
    const browser = newBrowser();
    const state = (await authorize(browser, 'corp')).searchParams.get('state') ?? '';
    assertBadState(await browser.request(`${PUBLIC_URL}/v1/auth/oauth/google/callback?${new URLSearchParams({ state, code: 'x' })}`));
  });

  it('refuses a code redeemed with another sign-in\'s PKCE verifier', async () => {
    const sub = newAccount();
    const browser = newBrowser();
    const first = await authorize(browser, 'corp');
    const second = await authorize(browser, 'corp');
    const back = new URL(await browser.signInAt(first.href, sub));
    // The first sign-in's code, with the second's state: Plaza redeems it with the second's verifier.
    back.searchParams.set('state', second.searchParams.get('state') ?? '');
    const fragment = landing(await browser.request(back.href));
    assert.equal(fragment.get('error'), 'invalid_social_token');
    assert.equal(fragment.get('accessToken'), null);
  });

  it('sends the browser straight back with #error=provider_unavailable when the issuer cannot be asked for its endpoints', async () => {
    const answer = await newBrowser().request(authorizePath('down'));
    assert.deepEqual([...landing(answer)], [['error', 'provider_unavailable']]);
  });

  it('ends a cancelled sign-in on the app with #error=access_denied', async () => {
    const browser = newBrowser();
    const back = await browser.signInAt((await authorize(browser, 'corp')).href, newAccount(), { abort: true });
    assert.equal(new URL(back).searchParams.get('error'), 'access_denied');
    const fragment = landing(await browser.request(back));
    assert.deepEqual([...fragment], [['error', 'access_denied']]);
  });

  it('never links by email: a verified email of another account ends with #error=account_exists', async () => {
    const owner = await signUp(api);
    const sub = newAccount({ email: owner.user.email });
    const { fragment } = await signInThroughIdp(newBrowser(), 'corp', sub);
    assert.deepEqual([...fragment], [['error', 'account_exists']]);
  });

  it('links the provider to the signed-in caller with link=true (bearer or access_token), #linked=<provider>', async () => {
    const owner = await signUp(api);
    const sub = newAccount({ email: owner.user.email });
    const anonymous = await newBrowser().request(authorizePath('corp', { link: 'true' }));
    assert.equal(anonymous.status, 401, anonymous.body);
    const badToken = await newBrowser().request(authorizePath('corp', { link: 'true', access_token: 'not-a-token' }));
    assert.equal(badToken.status, 401, badToken.body);

    const { fragment } = await signInThroughIdp(newBrowser(), 'corp', sub, { link: 'true' }, { authorization: `Bearer ${owner.accessToken}` });
    assert.deepEqual([...fragment], [['linked', 'corp']]);
    const account = await api.get('/v1/account', { token: owner.accessToken });
    assert.deepEqual(account.body.providers.sort(), ['corp', 'password']);
    // Now the provider signs in to that account.
    const signedIn = await signInThroughIdp(newBrowser(), 'corp', sub);
    assert.equal(JSON.parse(signedIn.fragment.get('user') ?? '{}').id, owner.user.id);

    // Linking Google the way an EventSource-style client can: the access token in the query.
    const googleSub = newAccount({ email: `other-${randomUUID()}@corp.example` });
    const viaQuery = await signInThroughIdp(newBrowser(), 'google', googleSub, { link: 'true', access_token: owner.accessToken });
    assert.deepEqual([...viaQuery.fragment], [['linked', 'google']]);

    // A provider account that signs in to someone else cannot be linked.
    const other = await signUp(api);
    const taken = await signInThroughIdp(newBrowser(), 'corp', sub, { link: 'true', access_token: other.accessToken });
    assert.deepEqual([...taken.fragment], [['error', 'identity_taken']]);
  });

  it('refuses a link whose session ended (signed out) while the user was at the provider, and links nothing', async () => {
    const owner = await signUp(api);
    const sub = newAccount({ email: `late-${randomUUID()}@corp.example` });
    const browser = newBrowser();
    const toProvider = await authorize(browser, 'corp', { link: 'true' }, { authorization: `Bearer ${owner.accessToken}` });
    const back = await browser.signInAt(toProvider.href, sub);
    assert.equal((await api.post('/v1/auth/logout', { refreshToken: owner.refreshToken })).status, 204);
    const fragment = landing(await browser.request(back), `${WEB_APP}?from=web`);
    assert.deepEqual([...fragment], [['error', 'unauthorized']]);
    const again = await api.post('/v1/auth/login', { email: owner.user.email, password: owner.password });
    assert.deepEqual((await api.get('/v1/account', { token: again.body.accessToken })).body.providers, ['password']);
  });

  it('fetched the discovery document once per provider, for the redirects, the code exchanges and the token checks alike', () => {
    // corp and google share this issuer; each provider keeps its own copy.
    assert.equal(idp.discoveryFetches(), 2);
  });
});

describe('social sign-in, web flow of an access-token provider (GitHub)', () => {
  /** Plays GitHub's authorize page: the user `user` approves, and GitHub sends the browser back with a code. */
  function approveAtGitHub(toProvider: URL, user: { id: number; login: string; email: string }): string {
    assert.equal(`${toProvider.origin}${toProvider.pathname}`, `${github.url}/login/oauth/authorize`);
    assert.equal(toProvider.searchParams.get('client_id'), GITHUB_CLIENT_ID);
    assert.equal(toProvider.searchParams.get('scope'), 'read:user user:email');
    assert.equal(toProvider.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(toProvider.searchParams.get('nonce'), null, 'no ID token, no nonce');
    const code = randomBytes(10).toString('hex');
    const redirectUri = toProvider.searchParams.get('redirect_uri') ?? '';
    githubCodes.set(code, { challenge: toProvider.searchParams.get('code_challenge') ?? '', redirectUri, user });
    return `${redirectUri}?${new URLSearchParams({ code, state: toProvider.searchParams.get('state') ?? '' })}`;
  }
  const gitHubUser = () => {
    const id = Math.floor(Math.random() * 1e9);
    return { id, login: `octo${id}`, email: `octo${id}@users.example` };
  };

  it('signs a GitHub user up with the access token its code is exchanged for', async () => {
    githubTokens = 'answer';
    const user = gitHubUser();
    const browser = newBrowser();
    const back = approveAtGitHub(await authorize(browser, 'github'), user);
    const fragment = landing(await browser.request(back));
    assert.equal(fragment.get('created'), 'true', [...fragment].join());
    const account = await api.get('/v1/account', { token: fragment.get('accessToken') ?? '' });
    assert.equal(account.status, 200, account.text);
    assert.equal(account.body.name, user.login);
    assert.equal(account.body.email, user.email);
    assert.deepEqual(account.body.providers, ['github']);
    assertBadState(await browser.request(back));
  });

  it('refuses a code GitHub does not accept (its 200 with an error), with #error=invalid_social_token', async () => {
    githubTokens = 'answer';
    const browser = newBrowser();
    const toProvider = await authorize(browser, 'github');
    const back = new URL(approveAtGitHub(toProvider, gitHubUser()));
    back.searchParams.set('code', 'made-up');
    assert.deepEqual([...landing(await browser.request(back.href))], [['error', 'invalid_social_token']]);
  });

  it('ends on #error=provider_unavailable when the token endpoint fails or hangs, within the timeout', async () => {
    for (const mode of ['fail', 'hang'] as const) {
      githubTokens = mode;
      const browser = newBrowser();
      const back = approveAtGitHub(await authorize(browser, 'github'), gitHubUser());
      const started = Date.now();
      const fragment = landing(await browser.request(back));
      assert.deepEqual([...fragment], [['error', 'provider_unavailable']], mode);
      assert.ok(Date.now() - started < PROVIDER_TIMEOUT_MS + 3000, `${mode}: took ${Date.now() - started} ms`);
    }
    githubTokens = 'answer';
  });
});

describe('social sign-in, web flow of Sign in with Apple (form_post)', () => {
  /** Plays Apple's sign-in page: the user approves, and Apple posts the browser back with a code (and `user` when given). */
  async function approveAtApple(browser: Browser, toProvider: URL, person: { sub: string; email: string }, user?: unknown): Promise<BrowserAnswer> {
    assert.equal(`${toProvider.origin}${toProvider.pathname}`, `${apple.url}/auth/authorize`);
    const params = Object.fromEntries(toProvider.searchParams);
    assert.equal(params.response_mode, 'form_post');
    assert.equal(params.scope, 'name email');
    assert.equal(params.client_id, APPLE_CLIENT_ID);
    const code = randomBytes(10).toString('hex');
    appleCodes.set(code, { challenge: params.code_challenge ?? '', nonce: params.nonce ?? '', ...person });
    const form = { code, state: params.state ?? '', ...(user !== undefined && { user: JSON.stringify(user) }) };
    return browser.request(params.redirect_uri ?? '', { form });
  }

  it('keeps the name Apple posts on the first sign-in only, with a client secret made from the team key and reused', async () => {
    const person = { sub: `001234.${randomBytes(8).toString('hex')}`, email: `${randomBytes(4).toString('hex')}@privaterelay.appleid.example` };
    const browser = newBrowser();
    const first = await approveAtApple(browser, await authorize(browser, 'apple'), person, { name: { firstName: 'Tim', lastName: 'Apple' }, email: person.email });
    // 303: the app's page is fetched with GET after Apple's POST.
    const fragment = landing(first, undefined, 303);
    assert.equal(fragment.get('created'), 'true', [...fragment].join());
    const account = await api.get('/v1/account', { token: fragment.get('accessToken') ?? '' });
    assert.equal(account.body.name, 'Tim Apple');
    assert.equal(account.body.email, person.email);
    assert.deepEqual(account.body.providers, ['apple']);

    const second = await approveAtApple(browser, await authorize(browser, 'apple'), person);
    const again = landing(second, undefined, 303);
    assert.equal(again.get('created'), 'false');
    assert.equal(JSON.parse(again.get('user') ?? '{}').name, 'Tim Apple');
    assert.equal(appleClientSecrets.length, 2);
    assert.equal(appleClientSecrets[0], appleClientSecrets[1], 'the client secret is made once and reused');
  });

  it('ends a sign-in the user cancelled at Apple with #error=access_denied', async () => {
    const browser = newBrowser();
    const state = (await authorize(browser, 'apple')).searchParams.get('state') ?? '';
    const answer = await browser.request(`${PUBLIC_URL}/v1/auth/oauth/apple/callback`, { form: { state, error: 'user_cancelled_authorize' } });
    assert.deepEqual([...landing(answer, undefined, 303)], [['error', 'access_denied']]);
  });
});
