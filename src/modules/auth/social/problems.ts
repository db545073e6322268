import { AppError } from '#http/errors.ts';

/** The problems of social sign-in, by the codes API.md gives them. */
export const socialErrors = {
  /**
   * A provider token that does not prove who its bearer is. It travels in the body, as login's
   * credentials do, so it gets the same bare challenge (a 401 must carry one, RFC 9110 §11.6.1).
   */
  invalidSocialToken: (detail: string) =>
    new AppError(401, 'invalid_social_token', detail, { headers: { 'www-authenticate': 'Bearer realm="plaza"' } }),
  /** Never linked by email silently: the owner signs in and links the provider themselves. */
  accountExists: () =>
    new AppError(
      409,
      'account_exists',
      'An account with this email already exists: sign in to it, then link this provider from the account (POST /v1/account/identities/{provider})',
    ),
  identityTaken: () => new AppError(409, 'identity_taken', 'This provider account already signs in to another Plaza account'),
  providerAlreadyLinked: () =>
    new AppError(409, 'provider_linked', 'Another account at this provider is linked already: unlink it first'),
  lastSignInMethod: () =>
    new AppError(409, 'last_sign_in_method', 'This is the only way left to sign in to the account: set a password or link another provider first'),
  providerUnavailable: (provider: string) =>
    new AppError(502, 'provider_unavailable', `${provider} did not answer in time or answered wrongly; try again later`),
  unknownProvider: (provider: string) =>
    new AppError(400, 'invalid_request', `"${provider}" is not a sign-in provider of this server (GET /v1/auth/providers lists them)`, {
      extra: { errors: [{ path: '/provider', message: 'must be one of the configured providers' }] },
    }),
} as const;

/** Thrown inside a provider call (timeout, refused connection, a non-200 or unreadable answer), turned into 502. */
export class ProviderUnreachable extends Error {
  constructor(url: string, cause?: unknown) {
    super(`provider call failed: ${url}`, { cause });
    this.name = 'ProviderUnreachable';
  }
}
