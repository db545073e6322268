import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { sendByteContent } from '#http/byte-content.ts';
import { byteContentResponses, problemResponses } from '#http/openapi.ts';
import { acceptStreamedUploads, receiveUpload } from '#http/uploads.ts';
import { Account } from '../accounts/schemas.ts';
import type { AvatarsService } from './service.ts';

const HandleParams = Type.Object({ handle: Type.String({ minLength: 1, maxLength: 64 }) });
const AvatarIdParams = Type.Object({ avatarId: Type.String({ minLength: 1, maxLength: 64 }) });
const AvatarSize = Type.Union([Type.Literal('small'), Type.Literal('medium'), Type.Literal('large')], { default: 'medium' });
const SizeQuery = Type.Object({ size: AvatarSize }, { additionalProperties: false });
const HandleAvatarQuery = Type.Object(
  {
    size: AvatarSize,
    v: Type.Optional(
      Type.String({ maxLength: 64, description: 'An image id, as links handed out before `/v1/avatars/{avatarId}` carried it: that image, whatever the handle' }),
    ),
  },
  { additionalProperties: false },
);

/** An image id names the same bytes for good; a handle's current image may change at any time. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const CURRENT = 'public, max-age=60';

export function avatarRoutes(deps: { avatars: AvatarsService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { avatars, requireCaller } = deps;
  return async (plugin) => {
    await acceptStreamedUploads(plugin);
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // The token is checked on onRequest, before the body is read: without a valid one, 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['account'], security: [{ bearer: [] }] } } as const;

    app.put(
      '/v1/account/avatar',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Set your profile image (JPEG, PNG, WebP, GIF or AVIF bytes)',
          consumes: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'multipart/form-data'],
          response: { 200: Account },
        },
      },
      async (request) => {
        const { userId } = callerOf(request);
        return receiveUpload(request, undefined, (upload) => avatars.set(userId, upload));
      },
    );

    app.delete(
      '/v1/account/avatar',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Remove your profile image', response: { 204: Type.Null() } } },
      async (request, reply) => {
        await avatars.remove(callerOf(request).userId);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/users/:handle/avatar',
      {
        schema: {
          tags: ['users'],
          summary: "A user's current profile image (square WebP)",
          params: HandleParams,
          querystring: HandleAvatarQuery,
          response: { ...byteContentResponses(['image/webp']), ...problemResponses(416) },
        },
      },
      async (request, reply) => {
        const { content, immutable } = await avatars.viaHandle(request.params.handle, request.query.size, request.query.v);
        return sendByteContent(request, reply, content, immutable ? IMMUTABLE : CURRENT);
      },
    );

    app.get(
      '/v1/avatars/:avatarId',
      {
        schema: {
          tags: ['users'],
          summary: 'A profile image by its id, the avatarUrl link (square WebP); 404 once replaced or removed',
          params: AvatarIdParams,
          querystring: SizeQuery,
          response: { ...byteContentResponses(['image/webp']), ...problemResponses(416) },
        },
      },
      async (request, reply) => sendByteContent(request, reply, await avatars.image(request.params.avatarId, request.query.size), IMMUTABLE),
    );
  };
}
