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
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined) throw errors.unauthorized();
    request.caller = await verify(match[1]);
  };
}

/**
 * An onRequest hook for routes open to anonymous callers too (signed links): a bearer token, when sent,
 * must still be valid.
 */
export function identifyCaller(verify: VerifyAccessToken): onRequestAsyncHookHandler {
  return async (request) => {
    if (request.headers.authorization === undefined) return;
    const match = BEARER.exec(request.headers.authorization);
    if (match?.[1] === undefined) throw errors.unauthorized();
    request.caller = await verify(match[1]);
  };
}

/** The caller of a route guarded by `requireCaller`. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw errors.unauthorized();
  return request.caller;
}
