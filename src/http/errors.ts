/** A failure with a stable machine-readable code and the HTTP status it maps to. */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

export type FieldError = { path: string; message: string };

const BEARER_CHALLENGE = 'Bearer realm="plaza"';
const SIGN_IN = 'Sign in first: send Authorization: Bearer <accessToken> (POST /v1/auth/login or /v1/auth/signup gives you one)';

/** RFC 6750's error_description admits printable ASCII but the quote and the backslash. */
function quotable(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');
}

/** Every error Plaza answers with, by name. Services throw these; only the error handler renders them. */
export const errors = {
  invalidRequest: (detail: string, fieldErrors: FieldError[] = []) =>
    new AppError(400, 'invalid_request', detail, { extra: { errors: fieldErrors } }),
  /** No credentials were sent (or in a scheme Plaza does not take): the challenge carries no error (RFC 6750 §3.1). */
  unauthorized: (detail = SIGN_IN) => new AppError(401, 'unauthorized', detail, { headers: { 'www-authenticate': BEARER_CHALLENGE } }),
  /** A bearer token was sent and is malformed, expired, revoked or not ours. */
  invalidAccessToken: (detail: string) =>
    new AppError(401, 'unauthorized', detail, {
      headers: { 'www-authenticate': `${BEARER_CHALLENGE}, error="invalid_token", error_description="${quotable(detail)}"` },
    }),
  /**
   * Login's credentials travel in the body, not in an HTTP authentication scheme, so no bearer error
   * applies; but a 401 must carry a challenge (RFC 9110 §11.6.1), and the bare Bearer one is true:
   * this API authenticates requests with bearer tokens, which login hands out.
   */
  invalidCredentials: () =>
    new AppError(401, 'invalid_credentials', 'The email or password is wrong', { headers: { 'www-authenticate': BEARER_CHALLENGE } }),
  /** A signed-in caller re-confirming a sensitive action with the wrong password. Not 401: the session is fine. */
  wrongPassword: () => new AppError(403, 'invalid_credentials', 'The password is wrong'),
  /** A refresh token (sent in the body, as login's credentials are: the same bare challenge) that cannot be traded. */
  invalidRefreshToken: (detail: string) =>
    new AppError(401, 'unauthorized', detail, { headers: { 'www-authenticate': BEARER_CHALLENGE } }),
  /**
   * An account without a password re-confirms sensitive actions by signing in with its provider
   * again; this session's sign-in is older than `maxAgeMinutes`. Not 401: the session is fine.
   */
  reauthenticationRequired: (maxAgeMinutes: number) =>
    new AppError(
      403,
      'reauthentication_required',
      `This needs a sign-in from the last ${maxAgeMinutes} minutes: sign in with your provider again (POST /v1/auth/social or the web flow), then retry with the new session`,
      { extra: { maxAgeMinutes } },
    ),
  forbidden: (detail = 'You may not do this') => new AppError(403, 'forbidden', detail),
  notFound: (what = 'resource') => new AppError(404, 'not_found', `No such ${what}`),
  methodNotAllowed: (allowed: string[]) =>
    new AppError(405, 'method_not_allowed', 'This method is not allowed on this resource', {
      headers: { allow: allowed.join(', ') },
    }),
  purchaseRequired: (detail = 'Buy the post to read this') => new AppError(402, 'purchase_required', detail),
  emailTaken: () => new AppError(409, 'email_taken', 'An account with this email already exists'),
  handleTaken: () => new AppError(409, 'handle_taken', 'This handle is taken'),
  /** A password signs in together with the account's email, and this (social-only) account has none. */
  emailRequired: () =>
    new AppError(409, 'email_required', 'A password signs in with the account\'s email, and this account has none: keep signing in with your provider'),
  /** Following one more account would pass the cap (FOLLOW_MAX); unfollowing someone makes room. */
  followLimit: (limit: number) =>
    new AppError(409, 'follow_limit', `One account may follow at most ${limit} others; unfollow one to follow another`, {
      extra: { limit },
    }),
  uriTooLong: (detail: string) => new AppError(414, 'uri_too_long', detail),
  payloadTooLarge: (limitBytes?: number) =>
    new AppError(
      413,
      'payload_too_large',
      limitBytes === undefined ? 'The request body is too large' : `The request body is larger than ${limitBytes} bytes`,
    ),
  unsupportedMediaType: (detail = 'This content type is not accepted here') =>
    new AppError(415, 'unsupported_media_type', detail),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError(429, 'rate_limited', 'Too many attempts; try again later', {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  unavailable: (detail: string) => new AppError(503, 'unavailable', detail),
} as const;
