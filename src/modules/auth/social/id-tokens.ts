import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { SocialProviderConfig } from '../../../config.ts';
import { ProviderUnreachable, socialErrors } from './problems.ts';

/** Signature algorithms an ID token may use, and only those of them its issuer advertises: never `none`, never an HMAC. */
const ASYMMETRIC_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
/** For an issuer whose discovery document lists none (it must: OpenID Connect Discovery 1.0 §3). */
const DEFAULT_ALGORITHMS = ['RS256', 'ES256'];
/** Clocks of Plaza and of the provider may differ by this much, for `exp` and `iat`. */
const CLOCK_SKEW_SECONDS = 60;
/** An ID token issued longer ago than this is refused whatever its `exp` (and one issued in the future, by jose's `iat` check). */
const MAX_TOKEN_AGE = '1 day';
/** A discovery document is fetched again after this long; its keys follow their own cache (see `keysOf`). */
const DISCOVERY_TTL_MS = 24 * 3600_000;
/** Keys are fetched again after this long even when every token names a known one. */
const JWKS_MAX_AGE_MS = 10 * 60_000;
/** Google's tokens name their issuer with or without the scheme. */
const GOOGLE_ISSUER = 'https://accounts.google.com';

/** Who a provider token's bearer is, as the provider vouches (an ID token's claims, or its API's answer). */
export type VerifiedIdentity = {
  /** The provider's user id. */
  subject: string;
  /** Only as the provider wrote it; `emailVerified` says whether to believe it. */
  email: string | null;
  emailVerified: boolean;
  name: string | undefined;
  /** The URL of the user's picture at the provider, if it offers one: copied into Plaza's storage on sign-up, never shown. */
  picture?: string | undefined;
};

/** An ID token's identity, and how long the token must be remembered as used. */
export type VerifiedIdToken = VerifiedIdentity & { expiresAt: Date };

/** Where the web sign-in sends the browser and redeems the code, and how it presents the client secret there. */
export type IssuerEndpoints = { authorization: string; token: string; clientAuth: 'client_secret_basic' | 'client_secret_post' };

/** What an issuer's discovery document says: its keys, and its web sign-in endpoints when it lists both. */
type IssuerKeys = { algorithms: string[]; keys: JWTVerifyGetKey; endpoints: IssuerEndpoints | undefined };

export type IdTokenVerifier = ReturnType<typeof createIdTokenVerifier>;

/**
 * Verifies providers' ID tokens against the keys their issuer's discovery document points to. Every
 * call to a provider gives up after `timeoutMs`, then answers `502 provider_unavailable`; documents
 * and keys are cached per provider, and keys fetched again when a token names one not among them
 * (no more often than `refreshCooldownSeconds`, so forged key ids cannot make Plaza hammer the provider).
 */
export function createIdTokenVerifier(options: {
  timeoutMs: number;
  refreshCooldownSeconds: number;
  /** Told why a provider could not be asked: the client hears only 502, the operator needs the cause. */
  logger: Pick<FastifyBaseLogger, 'warn'>;
}) {
  const issuers = new Map<string, { startedAt: number; keys: Promise<IssuerKeys> }>();

  async function fetchJson(url: string): Promise<unknown> {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'manual', headers: { accept: 'application/json' } });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      return JSON.parse(text);
    } catch (error) {
      throw new ProviderUnreachable(url, error);
    }
  }

  /** jose's key fetches, made through `fetchJson`: bounded by the timeout, and every failure (a key set that is none too) a `ProviderUnreachable`. */
  async function fetchKeys(url: string): Promise<Response> {
    const keySet = (await fetchJson(url)) as { keys?: unknown } | null;
    if (typeof keySet !== 'object' || keySet === null || !Array.isArray(keySet.keys)) throw new ProviderUnreachable(url, new Error('not a JSON Web Key Set'));
    return Response.json(keySet);
  }

  async function discover(provider: SocialProviderConfig & { issuer: string }): Promise<IssuerKeys> {
    const url = `${provider.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const fetched = await fetchJson(url);
    if (typeof fetched !== 'object' || fetched === null) throw new ProviderUnreachable(url, new Error('not a discovery document'));
    const document = fetched as Record<string, unknown>;
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== provider.issuer) throw new ProviderUnreachable(url, new Error(`the document names issuer ${String(document.issuer)}`));
    const jwksUri = typeof document.jwks_uri === 'string' && URL.canParse(document.jwks_uri) ? new URL(document.jwks_uri) : undefined;
    if (jwksUri?.protocol !== 'https:') throw new ProviderUnreachable(url, new Error('jwks_uri is not an https URL'));
    const advertised = Array.isArray(document.id_token_signing_alg_values_supported) ? document.id_token_signing_alg_values_supported : [];
    const algorithms = advertised.filter((alg): alg is string => typeof alg === 'string' && ASYMMETRIC_ALGORITHMS.has(alg));
    const keys = createRemoteJWKSet(jwksUri, {
      timeoutDuration: options.timeoutMs,
      cooldownDuration: options.refreshCooldownSeconds * 1000,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      [customFetch]: fetchKeys,
    });
    return { algorithms: algorithms.length > 0 ? algorithms : DEFAULT_ALGORITHMS, keys, endpoints: endpointsOf(document) };
  }

  /** The provider's keys, from its discovery document fetched at most once a day; callers meanwhile share one fetch, and a failed one is not kept. */
  function keysOf(provider: SocialProviderConfig & { issuer: string }): Promise<IssuerKeys> {
    const cached = issuers.get(provider.id);
    if (cached !== undefined && Date.now() - cached.startedAt < DISCOVERY_TTL_MS) return cached.keys;
    const entry = { startedAt: Date.now(), keys: discover(provider) };
    issuers.set(provider.id, entry);
    entry.keys.catch(() => issuers.get(provider.id) === entry && issuers.delete(provider.id));
    return entry.keys;
  }

  return {
    /** The issuer's authorization and token endpoints, from the discovery document the keys come from; `502` when it cannot be had or lists none. */
    async endpoints(provider: SocialProviderConfig): Promise<IssuerEndpoints> {
      const { issuer } = provider;
      if (issuer === undefined) throw new Error(`social sign-in: ${provider.id} has no issuer`);
      try {
        const { endpoints } = await keysOf({ ...provider, issuer });
        if (endpoints === undefined) throw new ProviderUnreachable(issuer, new Error('the discovery document lists no https authorization_endpoint and token_endpoint'));
        return endpoints;
      } catch (error) {
        if (!(error instanceof ProviderUnreachable)) throw error;
        options.logger.warn({ err: error, provider: provider.id }, 'social sign-in: the provider could not be asked for its endpoints');
        throw socialErrors.providerUnavailable(provider.name);
      }
    },

    /**
     * The identity an ID token proves, once its signature, issuer, audience, times and nonce (when
     * the app sent one) are checked; `401 invalid_social_token` otherwise, `502` when the provider
     * cannot be asked for its keys.
     */
    async verify(provider: SocialProviderConfig, token: string, nonce: string | undefined): Promise<VerifiedIdToken> {
      const { issuer } = provider;
      if (issuer === undefined) throw new Error(`social sign-in: ${provider.id} issues no ID tokens`);
      try {
        const { algorithms, keys } = await keysOf({ ...provider, issuer });
        const { payload } = await jwtVerify(token, keys, {
          algorithms,
          issuer: issuer === GOOGLE_ISSUER ? [issuer, 'accounts.google.com'] : issuer,
          audience: [...provider.audiences],
          clockTolerance: CLOCK_SKEW_SECONDS,
          maxTokenAge: MAX_TOKEN_AGE,
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        if (nonce !== undefined) {
          const expected = provider.hashedNonce ? createHash('sha256').update(nonce).digest('hex') : nonce;
          if (payload.nonce !== expected) throw socialErrors.invalidSocialToken('The token was not issued for this nonce');
        }
        if (typeof payload.sub !== 'string' || payload.sub === '' || payload.exp === undefined) {
          throw socialErrors.invalidSocialToken('The token names no subject');
        }
        const email = typeof payload.email === 'string' && payload.email !== '' ? payload.email : null;
        return {
          subject: payload.sub,
          email,
          // Apple writes the flag as a string.
          emailVerified: email !== null && (payload.email_verified === true || payload.email_verified === 'true'),
          name: nameOf(payload),
          picture: typeof payload.picture === 'string' && payload.picture !== '' ? payload.picture : undefined,
          expiresAt: new Date((payload.exp + CLOCK_SKEW_SECONDS) * 1000),
        };
      } catch (error) {
        if (error instanceof ProviderUnreachable) {
          options.logger.warn({ err: error, provider: provider.id }, 'social sign-in: the provider could not be asked for its keys');
          throw socialErrors.providerUnavailable(provider.name);
        }
        if (error instanceof joseErrors.JOSEError) throw socialErrors.invalidSocialToken(refusal(error, provider.name));
        throw error;
      }
    },
  };
}

/**
 * The web sign-in's endpoints of a discovery document, https only. The client secret goes in the
 * Authorization header (the default, RFC 6749 §2.3.1) unless the issuer takes it only in the body (Apple, Kakao).
 */
function endpointsOf(document: Record<string, unknown>): IssuerEndpoints | undefined {
  const https = (value: unknown) => (typeof value === 'string' && URL.canParse(value) && new URL(value).protocol === 'https:' ? value : undefined);
  const authorization = https(document.authorization_endpoint);
  const token = https(document.token_endpoint);
  if (authorization === undefined || token === undefined) return undefined;
  const methods = Array.isArray(document.token_endpoint_auth_methods_supported) ? document.token_endpoint_auth_methods_supported : ['client_secret_basic'];
  const clientAuth = !methods.includes('client_secret_basic') && methods.includes('client_secret_post') ? 'client_secret_post' : 'client_secret_basic';
  return { authorization, token, clientAuth };
}

/** Why jose refused a token, in words a client developer can act on. */
function refusal(error: joseErrors.JOSEError, provider: string): string {
  if (error instanceof joseErrors.JWTExpired) return `The ${provider} token has expired (or was issued too long ago): get a fresh one`;
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The ${provider} token's "${error.claim}" claim is not what this server accepts`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return `The ${provider} token is signed with an algorithm its issuer does not use`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return `The ${provider} token is signed with a key its issuer does not list`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return `The ${provider} token's signature does not verify`;
  return `This is not a ${provider} ID token`;
}

/** A display name from the standard claims, if the token carries one. */
function nameOf(payload: Record<string, unknown>): string | undefined {
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
  const given = [text(payload.given_name), text(payload.family_name)].filter((part) => part !== undefined).join(' ');
  return text(payload.name) ?? text(given) ?? text(payload.preferred_username) ?? text(payload.nickname);
}
