import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { errors } from './errors.ts';

/** Who is calling, once their access token has been verified. */
export type Caller = { readonly userId: string; readonly sessionId: string };

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | undefined;
  }
}

/** Declares `request.caller` before any hook sets it, so every request object has the same shape. */
export function decorateCaller(app: FastifyInstance): void {
  app.decorateRequest('caller', undefined);
}

export type VerifyAccessToken = (token: string) => Promise<Caller>;

const BEARER = /^Bearer ([A-Za-z0-9\-_.~+/]+=*)$/;

/** An onRequest hook (before the body is read) that admits only requests with a valid, unrevoked bearer token. */
export function requireCaller(verify: VerifyAccessToken): onRequestAsyncHookHandler {
  return async (request) => {
    request.caller = await verify(bearerTokenOf(request.headers.authorization));
  };
}

/**
 * `requireCaller` that also takes the token from the `access_token` query parameter when no
 * Authorization header is sent, for clients that cannot send headers (EventSource). Only for the
 * routes that need it: a token in a URL ends up in browser histories and proxy logs (Plaza's own
 * logs redact it).
 */
export function requireCallerOrQueryToken(verify: VerifyAccessToken): onRequestAsyncHookHandler {
  return async (request) => {
    const fromQuery = (request.query as Record<string, unknown>).access_token;
    const useQuery = request.headers.authorization === undefined && typeof fromQuery === 'string' && fromQuery !== '';
    request.caller = await verify(useQuery ? fromQuery : bearerTokenOf(request.headers.authorization));
  };
}

/**
 * An onRequest hook for routes open to anonymous callers too (signed links): a bearer token, when sent,
 * must still be valid.
 */
export function identifyCaller(verify: VerifyAccessToken): onRequestAsyncHookHandler {
  return async (request) => {
    if (request.headers.authorization === undefined) return;
    request.caller = await verify(bearerTokenOf(request.headers.authorization));
  };
}

/** The token of an `Authorization: Bearer` header; a 401 saying what is wrong with any other. */
function bearerTokenOf(authorization: string | undefined): string {
  const token = BEARER.exec(authorization ?? '')?.[1];
  if (token !== undefined) return token;
  if (authorization === undefined || authorization.trim() === '') throw errors.unauthorized();
  // Another scheme (Basic, …) is no bearer credential at all: a plain challenge (RFC 6750 §3.1).
  if (!/^bearer(\s|$)/i.test(authorization)) {
    throw errors.unauthorized('Only bearer tokens are accepted: send Authorization: Bearer <accessToken>');
  }
  throw errors.invalidAccessToken('The Authorization header holds no well-formed token: send Authorization: Bearer <accessToken>');
}

/** The caller of a route guarded by `requireCaller`. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw errors.unauthorized();
  return request.caller;
}
