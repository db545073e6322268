import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { sendByteContent } from '#http/byte-content.ts';
import { byteContentResponses, problemResponses } from '#http/openapi.ts';
import { privateCache, signatureOf, SignedLinkQuery } from '#http/signed-link-query.ts';
import { acceptStreamedUploads, receiveUpload } from '#http/uploads.ts';
import { Media, VariantQuery } from './schemas.ts';
import type { MediaGrant, MediaService } from './service.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const UploadQuery = Type.Object(
  { fileName: Type.Optional(Type.String({ maxLength: 10_000, description: 'A label; never a storage path' })) },
  { additionalProperties: false },
);
const ContentQuery = Type.Object(
  {
    variant: Type.Optional(VariantQuery),
    viewer: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Signed link: the user it was made for (absent: anyone)' })),
    ...SignedLinkQuery,
  },
  { additionalProperties: false },
);

export type MediaRouteDeps = {
  media: MediaService;
  /** Whether a caller (`undefined`: anyone) may read someone else's item through the posts holding it. */
  mediaGrant: (callerId: string | undefined, mediaId: string) => Promise<MediaGrant>;
  requireCaller: onRequestAsyncHookHandler;
  identifyCaller: onRequestAsyncHookHandler;
};

export function mediaRoutes(deps: MediaRouteDeps): FastifyPluginAsync {
  const { media, mediaGrant, requireCaller, identifyCaller } = deps;
  return async (plugin) => {
    await acceptStreamedUploads(plugin);
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Tokens are checked on onRequest, before the body is read or validated: a bad one is 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['media'], security: [{ bearer: [] }] } } as const;
    const anyone = { onRequest: identifyCaller, schema: { tags: ['media'], security: [{ bearer: [] }, {}] } } as const;

    app.post(
      '/v1/media',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Upload a photo, video or audio file (raw bytes, or multipart field `file`)',
          description: 'The type is sniffed from the bytes. Answers 202 while processing continues in the background.',
          consumes: ['application/octet-stream', 'multipart/form-data', 'image/*', 'audio/*', 'video/*'],
          querystring: UploadQuery,
          response: { 201: Media, 202: Media },
        },
      },
      async (request, reply) => {
        const { userId } = callerOf(request);
        const created = await receiveUpload(request, request.query.fileName, (upload) => media.upload(userId, upload));
        return reply.code(created.status === 'processing' ? 202 : 201).send(created);
      },
    );

    app.get(
      '/v1/media/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'One of your media items, with its processing status', params: IdParams, response: { 200: Media } } },
      async (request) => media.get(callerOf(request).userId, request.params.id),
    );

    app.get(
      '/v1/media/:id/content',
      {
        ...anyone,
        schema: {
          ...anyone.schema,
          summary: 'The bytes of a media item or of one of its variants (Range supported)',
          description:
            'Its owner gets the upload as it came; anyone else (a signed link in a post, or a bearer token through a post they may see) ' +
            'gets its copy without EXIF, GPS, camera or creation metadata (`variant=clean`), and 404 until that copy is made. ' +
            'A signed link works while the user it was made for (`viewer`) may still read the item.',
          params: IdParams,
          querystring: ContentQuery,
          // 403: a signed link not made for this file, or expired; 402: in a paid post not bought.
          response: { ...byteContentResponses(['image/*', 'audio/*', 'video/*']), ...problemResponses(402, 403, 416) },
        },
      },
      async (request, reply) => {
        const file = request.query.variant ?? 'original';
        const signature = signatureOf(request.query);
        const access = { callerId: request.caller?.userId, signature, ...(signature !== undefined && { signedFor: request.query.viewer }), grantFor: mediaGrant };
        const content = await media.content('post', request.params.id, file, access);
        return sendByteContent(request, reply, content, privateCache(request.query));
      },
    );

    app.delete(
      '/v1/media/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Delete a media item and all its files', params: IdParams, response: { 204: Type.Null(), ...problemResponses(409) } } },
      async (request, reply) => {
        await media.remove(callerOf(request).userId, 'post', request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
