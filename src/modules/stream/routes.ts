import type { FastifyPluginAsync, FastifyReply, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { callerOf } from '#http/auth.ts';
import { StreamHeaders, StreamQuery } from './schemas.ts';
import type { StreamService } from './service.ts';

const DESCRIPTION = [
  'Server-sent events (text/event-stream) for the caller: `event: notification` (data: a Notification), `event: post`',
  '(data: `{ id, authorId }`, a post entering their home timeline), each with an `id:`; a comment heartbeat every 25 s.',
  'Reconnect with `Last-Event-ID` (EventSource does) to be sent what was missed first; when the backlog no longer holds it,',
  '`event: reset` says to fetch again. The token may come as `?access_token=` for EventSource, which cannot send headers. See docs/stream.md.',
].join(' ');

export function streamRoutes(deps: { stream: StreamService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { stream, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/v1/stream',
      {
        // A HEAD would open a stream whose body is never sent.
        exposeHeadRoute: false,
        onRequest: requireCaller,
        schema: {
          tags: ['notifications'],
          summary: 'Live events',
          description: DESCRIPTION,
          security: [{ bearer: [] }],
          querystring: StreamQuery,
          headers: StreamHeaders,
          response: { 200: { description: 'An event stream, open until the client leaves, its session ends or the server stops', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
        },
      },
      async (request, reply) => {
        const lastEventId = request.headers['last-event-id'] || request.query.lastEventId || undefined;
        const connection = await stream.open(callerOf(request), lastEventId);
        // Not buffered by nginx (X-Accel-Buffering), nor cached. The body is a stream, which Fastify
        // pipes to the socket (the typed reply knows the documented string only).
        return (reply as FastifyReply).type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').header('x-accel-buffering', 'no').send(connection.body);
      },
    );
  };
}
