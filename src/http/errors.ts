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

/** Every error Plaza answers with, by name. Services throw these; only the error handler renders them. */
export const errors = {
  invalidRequest: (detail: string, fieldErrors: FieldError[] = []) =>
    new AppError(400, 'invalid_request', detail, { extra: { errors: fieldErrors } }),
  unauthorized: (detail = 'A valid access token is required') => new AppError(401, 'unauthorized', detail),
  invalidCredentials: () => new AppError(401, 'invalid_credentials', 'The email or password is wrong'),
  /** A signed-in caller re-confirming a sensitive action with the wrong password. Not 401: the session is fine. */
  wrongPassword: () => new AppError(403, 'invalid_credentials', 'The password is wrong'),
  invalidRefreshToken: () => new AppError(401, 'unauthorized', 'The refresh token is not valid'),
  forbidden: (detail = 'You may not do this') => new AppError(403, 'forbidden', detail),
  notFound: (what = 'resource') => new AppError(404, 'not_found', `No such ${what}`),
  methodNotAllowed: (allowed: string[]) =>
    new AppError(405, 'method_not_allowed', 'This method is not allowed on this resource', {
      headers: { allow: allowed.join(', ') },
    }),
  purchaseRequired: (detail = 'Buy the post to read this') => new AppError(402, 'purchase_required', detail),
  emailTaken: () => new AppError(409, 'email_taken', 'An account with this email already exists'),
  handleTaken: () => new AppError(409, 'handle_taken', 'This handle is taken'),
  /** Following one more account would pass the cap (FOLLOW_MAX); unfollowing someone makes room. */
  followLimit: (limit: number) =>
    new AppError(409, 'follow_limit', `One account may follow at most ${limit} others; unfollow one to follow another`, {
      extra: { limit },
    }),
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
