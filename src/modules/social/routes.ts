import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { User } from '../accounts/schemas.ts';
import type { SocialService } from './service.ts';

const HandleParams = Type.Object({ handle: Type.String({ minLength: 1, maxLength: 64 }) });
/**
 * The follow's body, which may be left out (Fastify validates a missing body as null): `notify`, a
 * notification for each new post of the followee.
 */
const FollowOptions = Type.Union([Type.Object({ notify: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), Type.Null()], {
  title: 'FollowOptions',
});

export function socialRoutes(deps: {
  social: SocialService;
  requireCaller: onRequestAsyncHookHandler;
  identifyCaller: onRequestAsyncHookHandler;
}): FastifyPluginAsync {
  const { social, requireCaller, identifyCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Tokens are checked on onRequest, before the body is read or validated: a bad one is 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['users'], security: [{ bearer: [] }] } } as const;
    const anyone = { onRequest: identifyCaller, schema: { tags: ['users'], security: [{ bearer: [] }, {}] } } as const;
    const noContent = { 204: Type.Null() };

    app.put(
      '/v1/users/:handle/follow',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Follow a user (idempotent), optionally with notify (a notification for each new post); 409 follow_limit past FOLLOW_MAX followed accounts',
          params: HandleParams,
          body: FollowOptions,
          response: { ...noContent, ...problemResponses(409) },
        },
      },
      async (request, reply) => {
        await social.follow(callerOf(request).userId, request.params.handle, request.body?.notify);
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/v1/users/:handle/follow',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Stop following a user (idempotent)', params: HandleParams, response: noContent } },
      async (request, reply) => {
        await social.unfollow(callerOf(request).userId, request.params.handle);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/users/:handle',
      {
        ...anyone,
        schema: {
          ...anyone.schema,
          summary: 'A public profile (with followedByMe for a signed-in caller)',
          params: HandleParams,
          response: { 200: User },
        },
      },
      async (request) => social.profile(request.caller?.userId, request.params.handle),
    );

    for (const side of ['followers', 'following'] as const) {
      app.get(
        `/v1/users/:handle/${side}`,
        {
          ...anyone,
          schema: {
            ...anyone.schema,
            summary: side === 'followers' ? "A user's followers, latest first" : 'Whom a user follows, latest first',
            params: HandleParams,
            querystring: PageQuery,
            response: { 200: Page(User) },
          },
        },
        async (request) => social[side](request.caller?.userId, request.params.handle, request.query),
      );
    }
  };
}
