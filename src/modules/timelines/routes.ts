import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { callerOf } from '#http/auth.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { Post } from '../posts/schemas.ts';
import type { TimelinesService } from './service.ts';

export function timelineRoutes(deps: { timelines: TimelinesService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { timelines, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/v1/timelines/home',
      {
        // Before the query is validated: without a valid token, the answer is 401 whatever was sent.
        onRequest: requireCaller,
        schema: {
          tags: ['posts'],
          security: [{ bearer: [] }],
          summary: 'Your posts and those of everyone you follow, newest first',
          querystring: PageQuery,
          response: { 200: Page(Post) },
        },
      },
      async (request) => timelines.home(callerOf(request).userId, request.query),
    );
  };
}
