import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { User } from '../accounts/schemas.ts';
import { NewPost, Post } from './schemas.ts';
import type { PostsService } from './service.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const HandleParams = Type.Object({ handle: Type.String({ minLength: 1, maxLength: 64 }) });

export function postRoutes(deps: {
  posts: PostsService;
  requireCaller: onRequestAsyncHookHandler;
  identifyCaller: onRequestAsyncHookHandler;
}): FastifyPluginAsync {
  const { posts, requireCaller, identifyCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Tokens are checked on onRequest, before the body is read or validated: a bad one is 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['posts'], security: [{ bearer: [] }] } } as const;
    const anyone = { onRequest: identifyCaller, schema: { tags: ['posts'], security: [{ bearer: [] }, {}] } } as const;

    app.post(
      '/v1/posts',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Publish a post', body: NewPost, response: { 201: Post } } },
      async (request, reply) => reply.code(201).send(await posts.create(callerOf(request).userId, request.body)),
    );

    app.get(
      '/v1/posts/:id',
      { ...anyone, schema: { ...anyone.schema, summary: 'One post', params: IdParams, response: { 200: Post } } },
      async (request) => posts.get(request.caller?.userId, request.params.id),
    );

    app.delete(
      '/v1/posts/:id',
      {
        ...signedIn,
        schema: { ...signedIn.schema, summary: 'Delete your post', params: IdParams, response: { 204: Type.Null(), ...problemResponses(403) } },
      },
      async (request, reply) => {
        await posts.remove(callerOf(request).userId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.put(
      '/v1/posts/:id/like',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Like a post (idempotent)', params: IdParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await posts.like(callerOf(request).userId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/v1/posts/:id/like',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Take back a like (idempotent)', params: IdParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await posts.unlike(callerOf(request).userId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/posts/:id/likes',
      {
        ...anyone,
        schema: { ...anyone.schema, summary: 'Who liked a post, latest first', params: IdParams, querystring: PageQuery, response: { 200: Page(User) } },
      },
      async (request) => posts.likers(request.caller?.userId, request.params.id, request.query),
    );

    app.get(
      '/v1/users/:handle/posts',
      {
        ...anyone,
        schema: { ...anyone.schema, summary: "A user's posts, newest first", params: HandleParams, querystring: PageQuery, response: { 200: Page(Post) } },
      },
      async (request) => posts.byAuthor(request.caller?.userId, request.params.handle, request.query),
    );

    app.get(
      '/v1/timelines/public',
      { ...anyone, schema: { ...anyone.schema, summary: 'Every public post, newest first (the main page)', querystring: PageQuery, response: { 200: Page(Post) } } },
      async (request) => posts.publicTimeline(request.caller?.userId, request.query),
    );
  };
}
