import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { PushSubscription, PushSubscriptionInput, PushUnsubscribe, VapidKey } from './schemas.ts';
import type { PushService } from './service.ts';

/** A subscription is a few hundred bytes; a larger body is answered 413 before it is read. */
const SUBSCRIPTION_BODY_LIMIT = 4096;

/** Documents a 503 problem: Web Push is not set up on this server. */
const pushUnavailable = {
  503: { description: 'push_unavailable: no VAPID_SUBJECT (nor ADMIN_EMAILS), or no VAPID keys with DATABASE_URL', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
};

export function pushRoutes(deps: { push: PushService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { push, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const signedIn = { onRequest: requireCaller, schema: { tags: ['push'], security: [{ bearer: [] }] } } as const;

    app.get(
      '/v1/push/vapid-key',
      { schema: { tags: ['push'], summary: "The server's VAPID public key, to subscribe a browser with (applicationServerKey)", response: { 200: VapidKey, ...pushUnavailable } } },
      async () => push.vapidKey(),
    );

    app.post(
      '/v1/push/subscriptions',
      {
        ...signedIn,
        bodyLimit: SUBSCRIPTION_BODY_LIMIT,
        schema: {
          ...signedIn.schema,
          summary: "Push your notifications to this browser: its PushSubscription's JSON (the same endpoint again updates it)",
          body: PushSubscriptionInput,
          response: { 201: PushSubscription, ...problemResponses(409, 413), ...pushUnavailable },
        },
      },
      async (request, reply) => reply.code(201).send(await push.subscribe(callerOf(request).userId, request.body)),
    );

    app.delete(
      '/v1/push/subscriptions',
      {
        ...signedIn,
        bodyLimit: SUBSCRIPTION_BODY_LIMIT,
        schema: { ...signedIn.schema, summary: 'Stop pushing to this endpoint of yours (one that is not yours is left as it is)', body: PushUnsubscribe, response: { 204: Type.Null() } },
      },
      async (request, reply) => {
        await push.unsubscribe(callerOf(request).userId, request.body.endpoint);
        return reply.code(204).send(null);
      },
    );
  };
}
