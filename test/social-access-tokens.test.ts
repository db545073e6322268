import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signUp } from './helpers/factories.ts';
import { client, type Answer } from './helpers/http.ts';
import { closedIssuer, startProviderApi, type ProviderApiAnswer, type ProviderApiRequest } from './helpers/identity-provider.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

/**
 * Native sign-in with the access tokens of providers that issue no ID token (Naver, Kakao without
 * OpenID Connect, Facebook, GitHub), checked by Plaza at the provider's own API. A local https
 * server answers those endpoints with the shapes each provider documents, and checks that Plaza
 * calls them with the app's credentials; Plaza runs as its own process, trusting the test CA
 * through NODE_EXTRA_CA_CERTS (see `identity-provider.ts`).
 */

const PROVIDER_TIMEOUT_MS = 1500;
const KAKAO_APP_ID = '1234567';
const FACEBOOK_APP_ID = '998877665544';
const FACEBOOK_SECRET = 'facebook-app-secret';
const GITHUB_CLIENT_ID = 'Iv1.github-client';
const GITHUB_SECRET = 'github-client-secret';

type Provider = 'naver' | 'kakao' | 'facebook' | 'github';

/** A provider account, and how its provider answers for its token. */
type Person = {
  id: string;
  name?: string;
  email?: string;
  /** Kakao's `is_email_verified`, GitHub's `verified` of the primary address. */
  emailVerified?: boolean;
  /** The app the token was issued to (Kakao, Facebook), or for GitHub any other than Plaza's. */
  app?: string;
  /** Naver's resultcode, when not "00". */
  resultcode?: string;
  /** Facebook: debug_token says is_valid false (an expired or revoked token), all else as for a valid one. */
  invalid?: boolean;
  /** GitHub: the token lacks the user:email scope. */
  noEmailScope?: boolean;
};

const tokens = new Map<string, { provider: Provider; person: Person }>();
let nextId = 4_000_000;

/** A token of the provider for `person` (a new provider account by default); the same person may hold several. */
function issue(provider: Provider, person: Partial<Person> = {}): { token: string; person: Person } {
  const full = { id: String((nextId += 1)), ...person };
  const token = `${provider}-${randomBytes(12).toString('hex')}`;
  tokens.set(token, { provider, person: full });
  return { token, person: full };
}

/** Tokens whose provider misbehaves, whatever endpoint they reach. */
const SLOW = 'slow-token';
const FAILING = 'failing-token';
const GARBLED = 'garbled-token';

const json = (status: number, body: unknown): ProviderApiAnswer => ({ status, json: body });
const bearerOf = (request: ProviderApiRequest) => /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1];

function answer(request: ProviderApiRequest): ProviderApiAnswer {
  const [, provider, ...rest] = request.path.split('/');
  const path = `/${rest.join('/')}`;
  const body = request.body === '' ? {} : (JSON.parse(request.body) as { access_token?: string });
  const token = bearerOf(request) ?? request.query.get('input_token') ?? body.access_token ?? request.query.get('access_token') ?? '';
  if (token === SLOW) return 'hang';
  if (token === FAILING) return json(503, { message: 'unavailable' });
  if (token === GARBLED) return { status: 200, text: '<html>maintenance</html>' };
  const held = tokens.get(token);
  const person = held !== undefined && held.provider === provider ? held.person : undefined;
  const key = `${request.method} /${provider}${path}`;
  switch (key) {
    case 'GET /naver/v1/nid/me': {
      if (person === undefined) return json(401, { resultcode: '024', message: 'Authentication failed' });
      if (person.resultcode !== undefined) return json(200, { resultcode: person.resultcode, message: 'Not Found Profile' });
      const { id, name, email } = person;
      return json(200, { resultcode: '00', message: 'success', response: { id, email, name, nickname: name && `${name}_nick`, profile_image: 'https://phinf.example/a.png' } });
    }
    case 'GET /kakao/v1/user/access_token_info':
      if (person === undefined) return json(401, { msg: 'this access token does not exist', code: -401 });
      return json(200, { id: Number(person.id), expires_in: 7199, app_id: Number(person.app ?? KAKAO_APP_ID) });
    case 'GET /kakao/v2/user/me': {
      if (person === undefined) return json(401, { msg: 'this access token does not exist', code: -401 });
      const account = {
        profile: person.name === undefined ? undefined : { nickname: person.name },
        has_email: person.email !== undefined,
        email: person.email,
        is_email_valid: person.email !== undefined,
        is_email_verified: person.emailVerified ?? false,
      };
      return json(200, { id: Number(person.id), connected_at: '2026-01-01T00:00:00Z', kakao_account: account });
    }
    case 'GET /facebook/debug_token': {
      if (request.query.get('access_token') !== `${FACEBOOK_APP_ID}|${FACEBOOK_SECRET}`) {
        return json(400, { error: { message: 'Invalid OAuth access token signature.', type: 'OAuthException', code: 190 } });
      }
      if (person === undefined) return json(200, { data: { error: { code: 190, message: 'Invalid OAuth access token.' }, is_valid: false, scopes: [] } });
      const expiresAt = Math.floor(Date.now() / 1000) + (person.invalid === true ? -60 : 3600);
      const data = { app_id: person.app ?? FACEBOOK_APP_ID, type: 'USER', application: 'Plaza', expires_at: expiresAt, scopes: ['email', 'public_profile'], user_id: person.id };
      if (person.invalid === true) return json(200, { data: { ...data, is_valid: false, error: { code: 190, message: 'Error validating access token: Session has expired', subcode: 463 } } });
      return json(200, { data: { ...data, is_valid: true } });
    }
    case 'GET /facebook/me': {
      const proof = createHmac('sha256', FACEBOOK_SECRET).update(token).digest('hex');
      if (person === undefined || request.query.get('appsecret_proof') !== proof) {
        return json(400, { error: { message: 'Invalid appsecret_proof provided in the API argument', type: 'GraphMethodException', code: 100 } });
      }
      assert.equal(request.query.get('fields'), 'id,name,email,picture.type(large)');
      return json(200, { id: person.id, name: person.name, email: person.email });
    }
    case `POST /github/applications/${GITHUB_CLIENT_ID}/token`: {
      if (request.headers.authorization !== `Basic ${Buffer.from(`${GITHUB_CLIENT_ID}:${GITHUB_SECRET}`).toString('base64')}`) {
        return json(401, { message: 'Requires authentication' });
      }
      if (person === undefined || person.app !== undefined) return json(404, { message: 'Not Found' });
      return json(200, { id: 1, token, app: { client_id: GITHUB_CLIENT_ID, name: 'Plaza' }, scopes: ['user:email'], user: { login: `user${person.id}`, id: Number(person.id) } });
    }
    case 'GET /github/user':
      if (person === undefined || request.headers['user-agent'] === undefined) return json(401, { message: 'Bad credentials' });
      return json(200, { login: `user${person.id}`, id: Number(person.id), name: person.name ?? null, email: null });
    case 'GET /github/user/emails':
      if (person === undefined) return json(401, { message: 'Bad credentials' });
      if (person.noEmailScope === true) return json(404, { message: 'Not Found' });
      return json(200, [
        { email: `other-${person.id}@example.net`, primary: false, verified: true, visibility: null },
        ...(person.email === undefined ? [] : [{ email: person.email, primary: true, verified: person.emailVerified ?? false, visibility: 'public' }]),
      ]);
    default:
      return json(404, { message: `no such endpoint: ${key}` });
  }
}

let providerApi: Awaited<ReturnType<typeof startProviderApi>>;
let storage: ServerStorage;
let server: ServerProcess;
const api = client(async () => server.url);

/** Every provider's settings, their APIs at `base` (the local server, or a port nothing listens on). */
function providerEnv(base: string): Record<string, string> {
  return {
    AUTH_PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    AUTH_NAVER_CLIENT_ID: 'naver-client',
    AUTH_NAVER_CLIENT_SECRET: 'naver-secret',
    AUTH_NAVER_API_URL: `${base}/naver`,
    AUTH_KAKAO_CLIENT_ID: 'kakao-rest-api-key',
    AUTH_KAKAO_APP_ID: KAKAO_APP_ID,
    AUTH_KAKAO_API_URL: `${base}/kakao/`,
    AUTH_FACEBOOK_CLIENT_ID: FACEBOOK_APP_ID,
    AUTH_FACEBOOK_CLIENT_SECRET: FACEBOOK_SECRET,
    AUTH_FACEBOOK_API_URL: `${base}/facebook`,
    AUTH_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID,
    AUTH_GITHUB_CLIENT_SECRET: GITHUB_SECRET,
    AUTH_GITHUB_API_URL: `${base}/github`,
  };
}

before(async () => {
  [providerApi, storage] = await Promise.all([startProviderApi(answer), serverStorage()]);
  server = await startServer({ ...storage.env, NODE_EXTRA_CA_CERTS: providerApi.caFile, ...providerEnv(providerApi.url) });
});

after(async () => {
  await server?.stop();
  await Promise.all([providerApi?.close(), storage?.release()]);
});

function social(provider: string, token: string): Promise<Answer> {
  return api.post('/v1/auth/social', { provider, token });
}

function assertRefused(answer: Answer, code = 'invalid_social_token', status = 401) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body.code, code, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
  if (status === 401) assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="plaza"');
}

const PROVIDERS: Provider[] = ['naver', 'kakao', 'facebook', 'github'];
/** Whether Plaza takes the provider's email as verified when the provider says so: Naver and Facebook never say. */
const VOUCHES_FOR_EMAIL: Record<Provider, boolean> = { naver: false, kakao: true, facebook: false, github: true };

describe('social sign-in with access tokens', () => {
  it('lists the access-token providers', async () => {
    const answer = await api.get('/v1/auth/providers');
    assert.deepEqual(answer.body.providers.map((provider: { id: string }) => provider.id), ['facebook', 'kakao', 'naver', 'github']);
  });

  for (const provider of PROVIDERS) {
    describe(provider, () => {
      it('signs up with a valid token, then signs in with it again (access tokens are reusable) and with a fresh one', async () => {
        const { token, person } = issue(provider, { name: `Ada ${provider}` });
        const first = await social(provider, token);
        assert.equal(first.status, 200, first.text);
        assert.equal(first.body.created, true);
        assert.equal(first.body.user.name, `Ada ${provider}`);
        assert.deepEqual(first.body.user.providers, [provider]);
        const again = await social(provider, token);
        assert.equal(again.status, 200, again.text);
        assert.equal(again.body.created, false);
        assert.equal(again.body.user.id, first.body.user.id);
        const fresh = await social(provider, issue(provider, person).token);
        assert.equal(fresh.status, 200, fresh.text);
        assert.equal(fresh.body.created, false);
        assert.equal(fresh.body.user.id, first.body.user.id);
      });

      it(VOUCHES_FOR_EMAIL[provider] ? 'keeps the email only when the provider says it is verified' : 'never takes its email as verified', async () => {
        const email = `${provider}-${randomBytes(4).toString('hex')}@example.org`;
        const verified = await social(provider, issue(provider, { email, emailVerified: true }).token);
        assert.equal(verified.status, 200, verified.text);
        assert.equal(verified.body.user.email, VOUCHES_FOR_EMAIL[provider] ? email : null);
        const unverified = await social(provider, issue(provider, { email: `u-${email}`, emailVerified: false }).token);
        assert.equal(unverified.status, 200, unverified.text);
        assert.equal(unverified.body.user.email, null);
        const nameless = issue(provider);
        const none = await social(provider, nameless.token);
        assert.equal(none.status, 200, none.text);
        assert.equal(none.body.user.email, null);
        // Without a name, GitHub's login names the user; the others fall back on the provider's.
        assert.equal(none.body.user.name, provider === 'github' ? `user${nameless.person.id}` : `${displayName(provider)} user`);
      });

      it('refuses a token the provider does not know: 401', async () => {
        assertRefused(await social(provider, `${provider}-made-up-token`));
      });

      it('answers 502 within the timeout when the provider hangs, fails or answers garbage', async () => {
        const started = performance.now();
        assertRefused(await social(provider, SLOW), 'provider_unavailable', 502);
        const took = Math.round(performance.now() - started);
        assert.ok(took >= PROVIDER_TIMEOUT_MS - 100 && took < PROVIDER_TIMEOUT_MS + 2000, `took ${took} ms`);
        assertRefused(await social(provider, FAILING), 'provider_unavailable', 502);
        assertRefused(await social(provider, GARBLED), 'provider_unavailable', 502);
      });
    });
  }

  it('Naver: refuses an answer whose resultcode is not 00', async () => {
    assertRefused(await social('naver', issue('naver', { resultcode: '028' }).token));
  });

  it('Kakao: refuses a token issued to another app', async () => {
    assertRefused(await social('kakao', issue('kakao', { app: '7654321' }).token));
  });

  it('Facebook: refuses a token issued to another app, and one debug_token calls invalid', async () => {
    assertRefused(await social('facebook', issue('facebook', { app: '111111111' }).token));
    assertRefused(await social('facebook', issue('facebook', { invalid: true }).token));
  });

  it("GitHub: refuses a token of another OAuth app; signs in without an email when the token may not read them", async () => {
    assertRefused(await social('github', issue('github', { app: 'another' }).token));
    const noScope = await social('github', issue('github', { email: 'hidden@example.org', emailVerified: true, noEmailScope: true }).token);
    assert.equal(noScope.status, 200, noScope.text);
    assert.equal(noScope.body.user.email, null);
  });

  it('links an access-token provider to a signed-in account, proven by its token', async () => {
    const user = await signUp(api);
    const { token, person } = issue('naver');
    const linked = await api.post('/v1/account/identities/naver', { token }, { token: user.accessToken });
    assert.equal(linked.status, 200, linked.text);
    assert.deepEqual(linked.body.providers, ['password', 'naver']);
    const signedIn = await social('naver', issue('naver', person).token);
    assert.equal(signedIn.body.user.id, user.user.id);
    assertRefused(await api.post('/v1/account/identities/kakao', { token: 'kakao-forged' }, { token: user.accessToken }));
  });

  it('tells the operator why a provider could not be asked, without the token', async () => {
    await eventually(async () => assert.match(server.output(), /"provider":"facebook".*could not check the access token/));
    assert.doesNotMatch(server.output(), new RegExp(GARBLED));
  });
});

describe('social sign-in with access tokens, providers down', () => {
  it('answers 502 provider_unavailable at once when nothing listens', async () => {
    const downStorage = await serverStorage();
    const down = await startServer({ ...downStorage.env, NODE_EXTRA_CA_CERTS: providerApi.caFile, ...providerEnv(await closedIssuer()) });
    try {
      const downApi = client(async () => down.url);
      for (const provider of PROVIDERS) {
        const started = performance.now();
        assertRefused(await downApi.post('/v1/auth/social', { provider, token: issue(provider).token }), 'provider_unavailable', 502);
        assert.ok(performance.now() - started < PROVIDER_TIMEOUT_MS, `${provider} took ${performance.now() - started} ms`);
      }
    } finally {
      await down.stop();
      await downStorage.release();
    }
  });
});

function displayName(provider: Provider): string {
  return { naver: 'Naver', kakao: 'Kakao', facebook: 'Facebook', github: 'GitHub' }[provider];
}
