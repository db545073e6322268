import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { Page } from '#http/pagination.ts';
import { MarkRead, Notification, NotificationsQuery, UnreadCount } from './schemas.ts';
import { UNREAD_COUNT_CAP, type NotificationsService } from './service.ts';

export function notificationRoutes(deps: { notifications: NotificationsService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { notifications, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Tokens are checked on onRequest, before the body is read or validated: a bad one is 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['notifications'], security: [{ bearer: [] }] } } as const;

    app.get(
      '/v1/notifications',
      {
        ...signedIn,
        schema: { ...signedIn.schema, summary: 'Your notifications, newest first (unread=true: only unread ones)', querystring: NotificationsQuery, response: { 200: Page(Notification) } },
      },
      async (request) => notifications.list(callerOf(request).userId, request.query),
    );

    app.post(
      '/v1/notifications/read',
      {
        ...signedIn,
        schema: { ...signedIn.schema, summary: 'Mark your notifications read: up to and including upTo, or all', body: MarkRead, response: { 204: Type.Null() } },
      },
      async (request, reply) => {
        await notifications.markRead(callerOf(request).userId, request.body?.upTo);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/notifications/unread-count',
      { ...signedIn, schema: { ...signedIn.schema, summary: `How many of your notifications are unread (counted up to ${UNREAD_COUNT_CAP})`, response: { 200: UnreadCount } } },
      async (request) => ({ count: await notifications.unreadCount(callerOf(request).userId) }),
    );
  };
}
