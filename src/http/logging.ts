import { pino, type Logger } from 'pino';

/** Query parameters that may carry credentials (event-stream tokens, signed links, OAuth codes). */
const SECRET_QUERY_PARAMS = new Set(['access_token', 'token', 'refresh_token', 'sig', 'signature', 'code', 'state']);

/** Anything that looks like a credential, wherever it appears in a logged object. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.refreshToken',
  '*.accessToken',
  '*.token',
];

/**
 * The process's logger: JSON lines, credentials redacted wherever they appear. Built before the app
 * so adapters (the job queue) can report through it too.
 */
export function createLogger(level: string, stream: NodeJS.WritableStream | undefined): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (request: { method: string; url: string; ip?: string }) => ({
        method: request.method,
        url: redactUrl(request.url),
        remoteAddress: request.ip,
      }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
  return stream === undefined ? pino(options) : pino(options, stream);
}

export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  for (const name of [...params.keys()]) {
    if (SECRET_QUERY_PARAMS.has(name.toLowerCase())) params.set(name, '[redacted]');
  }
  return `${url.slice(0, queryStart)}?${params.toString()}`;
}
