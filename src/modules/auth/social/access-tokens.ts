import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { SocialProviderConfig } from '../../../config.ts';
import type { VerifiedIdentity } from './id-tokens.ts';
import { ProviderUnreachable, socialErrors } from './problems.ts';

/** GitHub's API refuses requests without a User-Agent. */
const USER_AGENT = 'plaza-social-sign-in';

/** The provider said no to the token (401/403, or its own "invalid" answer): 401 for the client, nothing for the operator. */
class TokenRefused extends Error {}

/**
 * How a call's answer is read: the JSON of a 200; `refused` statuses say the token is not good,
 * `absent` ones that what was asked for is not there (undefined); any other answer is a failure to ask.
 */
type Call = { url: string; headers?: Record<string, string>; method?: 'GET' | 'POST'; body?: string; refused?: readonly number[]; absent?: readonly number[] };

/** 400 is a malformed token to every provider here; 401 and 403 an invalid or revoked one. */
const REFUSED_STATUSES = [400, 401, 403] as const;

export type AccessTokenVerifier = ReturnType<typeof createAccessTokenVerifier>;

/**
 * Checks access tokens of providers whose native SDKs hand over no ID token (Naver, Kakao without
 * OpenID Connect, Facebook without Limited Login, GitHub) by asking the provider's own API who the
 * token's bearer is and, where the provider can say, which app it was issued to. Access tokens are
 * reusable by design (the app calls the provider's API with them for their whole life), so a token
 * proves its bearer as long as the provider accepts it: they are not marked used. Every call gives up
 * after `timeoutMs`, then answers `502 provider_unavailable`.
 */
export function createAccessTokenVerifier(options: {
  timeoutMs: number;
  /** Told why a provider could not be asked: the client hears only 502, the operator needs the cause. */
  logger: Pick<FastifyBaseLogger, 'warn'>;
}) {
  async function call({ url, headers = {}, method = 'GET', body, refused = REFUSED_STATUSES, absent = [] }: Call): Promise<unknown> {
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, {
        method,
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
        redirect: 'manual',
        headers: { accept: 'application/json', 'user-agent': USER_AGENT, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw new ProviderUnreachable(withoutQuery(url), error);
    }
    if (refused.includes(status)) throw new TokenRefused(`status ${status}`);
    if (absent.includes(status)) return undefined;
    if (status !== 200) throw new ProviderUnreachable(withoutQuery(url), new Error(`status ${status}`));
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ProviderUnreachable(withoutQuery(url), error);
    }
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function naver(provider: SocialProviderConfig & { api: string }, token: string): Promise<VerifiedIdentity> {
    const answer = record(await call({ url: `${provider.api}/v1/nid/me`, headers: bearer(token) }));
    if (answer.resultcode !== '00') throw new TokenRefused(`resultcode ${String(answer.resultcode)}`);
    const profile = record(answer.response);
    // Naver's answer does not say whether the member confirmed the address: never vouched for.
    return {
      subject: subjectOf(profile.id),
      email: text(profile.email) ?? null,
      emailVerified: false,
      name: text(profile.name) ?? text(profile.nickname),
      picture: text(profile.profile_image),
    };
  }

  async function kakao(provider: SocialProviderConfig & { api: string }, token: string): Promise<VerifiedIdentity> {
    const info = record(await call({ url: `${provider.api}/v1/user/access_token_info`, headers: bearer(token) }));
    if (String(info.app_id) !== provider.appId) throw new TokenRefused(`issued to app ${String(info.app_id)}`);
    const me = record(await call({ url: `${provider.api}/v2/user/me`, headers: bearer(token) }));
    const subject = subjectOf(me.id);
    if (info.id !== undefined && String(info.id) !== subject) throw new ProviderUnreachable(`${provider.api}/v2/user/me`, new Error('the user differs from the token info'));
    const account = record(me.kakao_account);
    const email = text(account.email) ?? null;
    return {
      subject,
      email,
      emailVerified: email !== null && account.is_email_verified === true && account.is_email_valid === true,
      name: text(record(account.profile).nickname),
      // Kakao hands out its placeholder to members without a picture: not worth a copy.
      picture: record(account.profile).is_default_image === true ? undefined : text(record(account.profile).profile_image_url),
    };
  }

  async function facebook(provider: SocialProviderConfig & { api: string }, token: string): Promise<VerifiedIdentity> {
    const appToken = `${provider.clientId}|${provider.clientSecret ?? ''}`;
    const debug = record(record(await call({ url: `${provider.api}/debug_token?${new URLSearchParams({ input_token: token, access_token: appToken })}` })).data);
    if (debug.is_valid !== true) throw new TokenRefused('is_valid is not true');
    if (!provider.audiences.includes(String(debug.app_id))) throw new TokenRefused(`issued to app ${String(debug.app_id)}`);
    // Proves the call comes from the app's server, for apps that require it ("Require App Secret").
    const proof = createHmac('sha256', provider.clientSecret ?? '').update(token).digest('hex');
    const query = new URLSearchParams({ fields: 'id,name,email,picture.type(large)', access_token: token, appsecret_proof: proof });
    const me = record(await call({ url: `${provider.api}/me?${query}` }));
    const subject = subjectOf(me.id);
    if (String(debug.user_id) !== subject) throw new ProviderUnreachable(`${provider.api}/me`, new Error('the user differs from debug_token'));
    // Facebook does not say whether the member confirmed the address (accounts can be made with a phone number): never vouched for.
    // Members without a picture get Facebook's silhouette: not worth a copy.
    const picture = record(record(me.picture).data);
    return { subject, email: text(me.email) ?? null, emailVerified: false, name: text(me.name), picture: picture.is_silhouette === true ? undefined : text(picture.url) };
  }

  async function github(provider: SocialProviderConfig & { api: string }, token: string): Promise<VerifiedIdentity> {
    // The one check of which app a token belongs to, with the app's own credentials; 404 is GitHub's "not a token of this app".
    const basic = Buffer.from(`${provider.clientId}:${provider.clientSecret ?? ''}`).toString('base64');
    const check = record(
      await call({
        url: `${provider.api}/applications/${encodeURIComponent(provider.clientId)}/token`,
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, accept: 'application/vnd.github+json' },
        body: JSON.stringify({ access_token: token }),
        refused: [...REFUSED_STATUSES, 404, 422],
      }),
    );
    const headers = { ...bearer(token), accept: 'application/vnd.github+json' };
    const user = record(await call({ url: `${provider.api}/user`, headers }));
    const subject = subjectOf(user.id);
    if (String(record(check.user).id) !== subject) throw new ProviderUnreachable(`${provider.api}/user`, new Error('the user differs from the token check'));
    // Without the user:email scope GitHub answers 403 or 404: the sign-in goes on without an email.
    const emails = await call({ url: `${provider.api}/user/emails`, headers, refused: [401], absent: [403, 404] });
    const primary = (Array.isArray(emails) ? emails : []).map(record).find((entry) => entry.primary === true && entry.verified === true);
    const email = text(primary?.email) ?? null;
    return { subject, email, emailVerified: email !== null, name: text(user.name) ?? text(user.login), picture: text(user.avatar_url) };
  }

  const checks: Record<string, (provider: SocialProviderConfig & { api: string }, token: string) => Promise<VerifiedIdentity>> = {
    naver,
    kakao,
    facebook,
    github,
  };

  return {
    /**
     * The identity the provider's API says an access token belongs to; `401 invalid_social_token` when
     * it refuses the token (or it was issued to another app), `502` when it cannot be asked.
     */
    async verify(provider: SocialProviderConfig, token: string): Promise<VerifiedIdentity> {
      const { api } = provider;
      const check = checks[provider.id];
      if (api === undefined || check === undefined) throw new Error(`social sign-in: ${provider.id} has no access-token check`);
      try {
        return await check({ ...provider, api }, token);
      } catch (error) {
        if (error instanceof TokenRefused) throw socialErrors.invalidSocialToken(`${provider.name} does not accept this access token for this app: sign in there again`);
        if (error instanceof ProviderUnreachable) {
          options.logger.warn({ err: error, provider: provider.id }, 'social sign-in: the provider could not check the access token');
          throw socialErrors.providerUnavailable(provider.name);
        }
        throw error;
      }
    },
  };
}

/** A JSON object's fields, or none: the providers' answers are read field by field, each checked. */
function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The provider's user id, a number or a string in its answers; an answer without one is not a provider's. */
function subjectOf(value: unknown): string {
  if ((typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && value !== '')) return String(value);
  throw new ProviderUnreachable('user id', new Error('the answer names no user'));
}

/** Facebook's URLs carry tokens in the query: never logged. */
function withoutQuery(url: string): string {
  return url.split('?', 1)[0] ?? url;
}
