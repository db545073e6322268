import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { importPKCS8, SignJWT } from 'jose';
import type { Database } from '#platform/db/database.ts';
import { AppError, errors } from '#http/errors.ts';
import type { SocialProviderConfig } from '../../../config.ts';
import type { Caller } from '#http/auth.ts';
import type { AuthService } from '../service.ts';
import type { IdTokenVerifier, IssuerEndpoints } from './id-tokens.ts';
import { ProviderUnreachable, socialErrors } from './problems.ts';
import type { SocialSignInService } from './service.ts';
import * as store from './store.ts';

/** How long a started web sign-in may take to come back (RFC 9700 §4.7: short-lived). */
const STATE_TTL_MS = 10 * 60_000;
/** Apple's client secret lives this long (Apple allows six months), and is made anew once half of it has gone. */
const APPLE_SECRET_TTL_SECONDS = 24 * 3600;
/** A browser's binding cookie: 32 random bytes, base64url. */
const BROWSER_ID = /^[A-Za-z0-9_-]{43}$/;

/** What each provider's authorize request asks for beyond the code: OpenID Connect's standard scopes unless it has its own. */
const SCOPES = new Map<string, string | undefined>([
  ['apple', 'name email'],
  // Kakao's consent items are set in its console, and with OpenID Connect turned on there its token endpoint returns an ID token.
  ['kakao', undefined],
  ['naver', undefined],
  ['facebook', 'public_profile email'],
  ['github', 'read:user user:email'],
]);
const OIDC_SCOPE = 'openid email profile';

export type WebSignIn = ReturnType<typeof createWebSignIn>;
/** Where to send the browser, and the binding cookie's value to (re)set on it. */
export type WebSignInStart = { location: string; browser: string };
/** What came back to the callback: the provider's query (or Apple's form post) and the browser's cookie. */
export type WebSignInReturn = {
  state: string | undefined;
  code: string | undefined;
  error: string | undefined;
  /** Apple posts the user's name (JSON) on the first sign-in only. */
  user: string | undefined;
  browser: string | undefined;
  ip: string;
};

/**
 * The web sign-in: `start` sends the browser to the provider with a fresh `state` (bound to the
 * browser by a cookie whose hash the state's row keeps), a PKCE challenge (S256) and, for ID-token
 * providers, a nonce; `finish` takes that state once, redeems the code with the PKCE verifier, and
 * signs in (or links) exactly as the native flow does with the token the provider handed over.
 * Once the state is known good, every failure ends on the app's `redirect_uri` with `#error=`.
 */
export function createWebSignIn(deps: {
  db: Database;
  providers: readonly SocialProviderConfig[];
  /** PUBLIC_URL: the providers send the browser back under it. */
  publicUrl: string;
  redirectAllowlist: readonly string[];
  timeoutMs: number;
  issuers: Pick<IdTokenVerifier, 'endpoints'>;
  socialSignIn: Pick<SocialSignInService, 'signInWithToken' | 'link'>;
  /** Each start is a sign-in attempt too: every one stores a state for ten minutes. */
  sessions: Pick<AuthService, 'countSignInAttempt' | 'isSessionActive'>;
  logger: Pick<FastifyBaseLogger, 'warn'>;
}) {
  const { db, socialSignIn } = deps;
  const providers = new Map(deps.providers.map((provider) => [provider.id, provider]));
  const allowlist = deps.redirectAllowlist.map((prefix) => new URL(prefix).href);
  let appleSecret: { value: string; renewAt: number } | undefined;

  const callbackUrl = (provider: SocialProviderConfig) => `${deps.publicUrl}/v1/auth/oauth/${provider.id}/callback`;

  async function endpointsOf(provider: SocialProviderConfig): Promise<Omit<IssuerEndpoints, 'clientAuth'> & Partial<IssuerEndpoints>> {
    if (provider.issuer !== undefined) return deps.issuers.endpoints(provider);
    if (provider.oauth === undefined) throw new Error(`social sign-in: ${provider.id} has no web sign-in endpoints`);
    return provider.oauth;
  }

  /** Sign in with Apple's client secret: an ES256 JWT of the team's key, made at run time and reused until half its life is gone. */
  async function clientSecretOf(provider: SocialProviderConfig): Promise<string | undefined> {
    if (provider.apple === undefined) return provider.clientSecret;
    if (appleSecret !== undefined && Date.now() < appleSecret.renewAt) return appleSecret.value;
    const now = Math.floor(Date.now() / 1000);
    const value = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: provider.apple.keyId })
      .setIssuer(provider.apple.teamId)
      .setSubject(provider.clientId)
      .setAudience(provider.issuer ?? '')
      .setIssuedAt(now)
      .setExpirationTime(now + APPLE_SECRET_TTL_SECONDS)
      .sign(await importPKCS8(provider.apple.privateKey, 'ES256'));
    appleSecret = { value, renewAt: Date.now() + (APPLE_SECRET_TTL_SECONDS * 1000) / 2 };
    return value;
  }

  /**
   * The provider's token for an authorization code: its ID token when it has an issuer, else its
   * access token. `401 invalid_social_token` when it refuses the code (a wrong PKCE verifier, a code
   * used already), `502 provider_unavailable` when it cannot be asked.
   */
  async function redeem(provider: SocialProviderConfig, code: string, codeVerifier: string, state: string): Promise<string> {
    const endpoints = await endpointsOf(provider);
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl(provider), code_verifier: codeVerifier });
    // Naver checks the state again at its token endpoint.
    if (provider.id === 'naver') body.set('state', state);
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
    const secret = await clientSecretOf(provider);
    if (endpoints.clientAuth === 'client_secret_basic' && secret !== undefined) {
      // RFC 6749 §2.3.1: each part form-encoded before they are joined.
      const encode = (part: string) => new URLSearchParams({ part }).toString().slice('part='.length);
      headers.authorization = `Basic ${Buffer.from(`${encode(provider.clientId)}:${encode(secret)}`).toString('base64')}`;
    } else {
      body.set('client_id', provider.clientId);
      if (secret !== undefined) body.set('client_secret', secret);
    }
    let status: number;
    let text: string;
    try {
      const response = await fetch(endpoints.token, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(deps.timeoutMs) });
      status = response.status;
      text = await response.text();
    } catch (error) {
      return unavailable(provider, new ProviderUnreachable(endpoints.token, error));
    }
    const answer = jsonObject(text);
    if (status === 200 && answer === undefined) return unavailable(provider, new ProviderUnreachable(endpoints.token, new Error('the answer is no JSON object')));
    // GitHub and Naver refuse a code with a 200 whose body names the error.
    if (status === 400 || status === 401 || (status === 200 && answer?.error !== undefined)) {
      // The client hears only that the code did not work; `invalid_client` and the like are the operator's to fix.
      deps.logger.warn({ provider: provider.id, status, error: answer?.error }, 'social sign-in: the provider refused the authorization code');
      throw socialErrors.invalidSocialToken(`${provider.name} did not accept the authorization code: sign in again`);
    }
    const token = provider.issuer !== undefined ? answer?.id_token : answer?.access_token;
    if (status !== 200 || typeof token !== 'string' || token === '') {
      return unavailable(provider, new ProviderUnreachable(endpoints.token, new Error(`status ${status}, no ${provider.issuer !== undefined ? 'id_token' : 'access_token'}`)));
    }
    return token;
  }

  function unavailable(provider: SocialProviderConfig, error: ProviderUnreachable): never {
    deps.logger.warn({ err: error, provider: provider.id }, 'social sign-in: the provider could not redeem the authorization code');
    throw socialErrors.providerUnavailable(provider.name);
  }

  return {
    /** Starts a web sign-in (or, with `linkTo`, a link to that caller's account): where the browser goes next. */
    async start(
      providerId: string,
      input: { redirectUri: string; linkTo: Caller | undefined; browser: string | undefined; ip: string },
    ): Promise<WebSignInStart> {
      const provider = providers.get(providerId);
      if (provider === undefined || (provider.issuer === undefined && provider.oauth === undefined)) throw errors.notFound('provider');
      const redirectUri = allowedRedirect(input.redirectUri, allowlist);
      if (redirectUri === undefined) {
        throw errors.invalidRequest('redirect_uri is not one this server may send a session to (AUTH_REDIRECT_ALLOWLIST)', [
          { path: '/redirect_uri', message: 'must start with an allow-listed prefix, without a fragment' },
        ]);
      }
      await deps.sessions.countSignInAttempt(input.ip);
      const browser = input.browser !== undefined && BROWSER_ID.test(input.browser) ? input.browser : randomValue();
      let endpoints;
      try {
        endpoints = await endpointsOf(provider);
      } catch (error) {
        if (error instanceof AppError) return { location: withFragment(redirectUri, { error: error.code }), browser };
        throw error;
      }
      const state = randomValue();
      const codeVerifier = randomValue();
      const nonce = randomValue();
      await store.insertOauthState(
        db,
        {
          state_hash: sha256(state),
          browser_hash: sha256(browser),
          provider: provider.id,
          redirect_uri: redirectUri,
          code_verifier: codeVerifier,
          nonce,
          link_user_id: input.linkTo?.userId ?? null,
          link_session_id: input.linkTo?.sessionId ?? null,
          expires_at: new Date(Date.now() + STATE_TTL_MS),
        },
        new Date(),
      );
      const location = new URL(endpoints.authorization);
      const scope = SCOPES.has(provider.id) ? SCOPES.get(provider.id) : OIDC_SCOPE;
      const params = {
        response_type: 'code',
        client_id: provider.clientId,
        redirect_uri: callbackUrl(provider),
        ...(scope !== undefined && { scope }),
        state,
        code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
        code_challenge_method: 'S256',
        // An ID token must carry what was sent; Apple's carry it as sent too, and its verifier expects the SHA-256 of the raw one.
        ...(provider.issuer !== undefined && { nonce: provider.hashedNonce ? createHash('sha256').update(nonce).digest('hex') : nonce }),
        // Apple sends the name (and requires a POST for it) only with form_post.
        ...(provider.id === 'apple' && { response_mode: 'form_post' }),
      };
      for (const [name, value] of Object.entries(params)) location.searchParams.set(name, value);
      return { location: location.href, browser };
    },

    /**
     * Ends a web sign-in: where the browser goes, its `redirect_uri` with the session (or `linked=`, or
     * `error=`) in the fragment. A state that is unknown, used, expired, another provider's or another
     * browser's is `400`: it names no redirect to trust, and it gets no session.
     */
    async finish(providerId: string, back: WebSignInReturn): Promise<string> {
      const row = back.state === undefined ? undefined : await store.takeOauthState(db, sha256(back.state));
      const provider = providers.get(providerId);
      if (
        row === undefined ||
        provider === undefined ||
        row.provider !== provider.id ||
        row.expires_at.getTime() <= Date.now() ||
        back.browser === undefined ||
        sha256(back.browser) !== row.browser_hash
      ) {
        throw errors.invalidRequest('This sign-in is unknown, over, expired or was started in another browser: start it again', [
          { path: '/state', message: 'must be the state of a sign-in this browser started in the last 10 minutes' },
        ]);
      }
      const { redirect_uri: redirectUri } = row;
      if (back.error !== undefined) return withFragment(redirectUri, { error: providerErrorCode(back.error) });
      if (back.code === undefined) return withFragment(redirectUri, { error: 'provider_error' });
      try {
        const token = await redeem(provider, back.code, row.code_verifier, back.state ?? '');
        const nonce = provider.issuer !== undefined ? row.nonce : undefined;
        if (row.link_user_id !== null) {
          const linkTo = { userId: row.link_user_id, sessionId: row.link_session_id ?? '' };
          // Signed out (or the password changed) since the link started: that session may not add a way in.
          if (!(await deps.sessions.isSessionActive(linkTo))) return withFragment(redirectUri, { error: 'unauthorized' });
          await socialSignIn.link(linkTo, provider.id, token, nonce);
          return withFragment(redirectUri, { linked: provider.id });
        }
        const session = await socialSignIn.signInWithToken(provider.id, token, nonce, provider.id === 'apple' ? appleName(back.user) : undefined);
        return withFragment(redirectUri, {
          accessToken: session.accessToken,
          refreshToken: session.refreshToken,
          expiresIn: String(session.expiresIn),
          created: String(session.created),
          user: JSON.stringify(session.user),
        });
      } catch (error) {
        if (error instanceof AppError) return withFragment(redirectUri, { error: error.code });
        throw error;
      }
    },
  };
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function randomValue(): string {
  return randomBytes(32).toString('base64url');
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * The redirect_uri as the browser will read it, when it starts with an allow-listed prefix (both
 * normalized, so `..` cannot climb out of one) at a boundary (`https://app.example` does not admit
 * `https://app.example.evil`); undefined otherwise. No fragment: the session goes there.
 */
function allowedRedirect(raw: string, allowlist: readonly string[]): string | undefined {
  if (raw.includes('#') || !URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  if (url.username !== '' || url.password !== '') return undefined;
  const { href } = url;
  const admitted = allowlist.some((prefix) => href.startsWith(prefix) && (/[/?&=:]$/.test(prefix) || ['', '/', '?'].includes(href.charAt(prefix.length))));
  return admitted ? href : undefined;
}

function withFragment(redirectUri: string, fields: Record<string, string>): string {
  return `${redirectUri}#${new URLSearchParams(fields)}`;
}

/** The app hears what happened, in the few codes it can act on; the provider's own words stay with it. */
function providerErrorCode(error: string): string {
  // Apple says `user_cancelled_authorize`; the others RFC 6749's `access_denied`.
  if (error === 'access_denied' || error.startsWith('user_cancelled')) return 'access_denied';
  if (error === 'temporarily_unavailable' || error === 'server_error') return 'provider_unavailable';
  return 'provider_error';
}

/** The name in Apple's `user` post (`{"name":{"firstName","lastName"},"email"}`), if it is one. */
function appleName(user: string | undefined): string | undefined {
  if (user === undefined) return undefined;
  try {
    const { name } = JSON.parse(user) as { name?: { firstName?: unknown; lastName?: unknown } };
    const parts = [name?.firstName, name?.lastName].filter((part): part is string => typeof part === 'string' && part.trim() !== '');
    return parts.length > 0 ? parts.join(' ').trim() : undefined;
  } catch {
    return undefined;
  }
}
