import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Config } from '../config.ts';

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
 * The process's logger: credentials redacted wherever they appear, then written as JSON lines, or
 * as human-readable ones (`pretty`, and `auto` on a terminal). Built before the app so adapters (the
 * job queue) can report through it too.
 */
export function createLogger(level: string, stream: NodeJS.WritableStream | undefined, format: Config['logFormat'] = 'json'): Logger {
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
  const pretty = format === 'pretty' || (format === 'auto' && stream === undefined && process.stdout.isTTY === true);
  if (pretty) return pino(options, prettyStream(stream));
  return stream === undefined ? pino(options) : pino(options, stream);
}

const requirePackage = createRequire(import.meta.url);

/**
 * pino-pretty in this thread, fed lines pino has already serialized and redacted. Loaded only when
 * asked for; writes synchronously so the last lines before an exit are not lost. A request's line
 * carries its method, path, status and duration; its id and the rest are in the JSON format.
 */
function prettyStream(destination: NodeJS.WritableStream | undefined): PinoPretty.PrettyStream {
  const pretty = requirePackage('pino-pretty') as typeof PinoPretty;
  return pretty({
    destination: destination ?? 1,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,reqId,req,res,responseTime',
    messageFormat: requestLine,
  });
}

type LogRecord = Record<string, unknown> & { req?: { method?: string; url?: string }; res?: { statusCode?: number } };

function requestLine(log: LogRecord, messageKey: string): string {
  const parts = [];
  if (log.req !== undefined) parts.push(`${log.req.method} ${log.req.url}`);
  if (log.res !== undefined) parts.push(String(log.res.statusCode));
  parts.push(String(log[messageKey] ?? ''));
  if (typeof log.responseTime === 'number') parts.push(`(${log.responseTime.toFixed(1)} ms)`);
  return parts.join(' ');
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
