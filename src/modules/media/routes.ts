import type { FastifyPluginAsync, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { sendByteContent } from '#http/byte-content.ts';
import { acceptStreamedUploads, receiveUpload } from '#http/uploads.ts';
import { errors } from '#http/errors.ts';
import { Media, VariantQuery } from './schemas.ts';
import type { ContentAccess, MediaGrant, MediaService } from './service.ts';

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** What a signed link adds to a content URL. */
export const SignedLinkQuery = {
  exp: Type.Optional(Type.Integer({ minimum: 0, description: 'Signed link: expiry, Unix seconds' })),
  sig: Type.Optional(Type.String({ maxLength: 128, description: 'Signed link: signature' })),
};

const UploadQuery = Type.Object(
  { fileName: Type.Optional(Type.String({ maxLength: 10_000, description: 'A label; never a storage path' })) },
  { additionalProperties: false },
);
const ContentQuery = Type.Object({ variant: Type.Optional(VariantQuery), ...SignedLinkQuery }, { additionalProperties: false });

export type MediaRouteDeps = {
  media: MediaService;
  /** Whether a caller may read someone else's item through the posts holding it. */
  mediaGrant: (callerId: string, mediaId: string) => Promise<MediaGrant>;
  requireCaller: preHandlerAsyncHookHandler;
  identifyCaller: preHandlerAsyncHookHandler;
};

export function mediaRoutes(deps: MediaRouteDeps): FastifyPluginAsync {
  const { media, mediaGrant, requireCaller, identifyCaller } = deps;
  return async (plugin) => {
    await acceptStreamedUploads(plugin);
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const common = { tags: ['media'], security: [{ bearer: [] }] };

    app.post(
      '/v1/media',
      {
        preHandler: requireCaller,
        schema: {
          ...common,
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
      { preHandler: requireCaller, schema: { ...common, summary: 'One of your media items, with its processing status', params: IdParams, response: { 200: Media } } },
      async (request) => media.get(callerOf(request).userId, request.params.id),
    );

    app.get(
      '/v1/media/:id/content',
      {
        preHandler: identifyCaller,
        schema: {
          ...common,
          security: [{ bearer: [] }, {}],
          summary: 'The bytes of a media item or of one of its variants (Range supported)',
          params: IdParams,
          querystring: ContentQuery,
        },
      },
      async (request, reply) => {
        const file = request.query.variant ?? 'original';
        const access = contentAccess(request, request.query);
        const callerId = access.callerId;
        const grantFor = callerId === undefined ? undefined : (mediaId: string) => mediaGrant(callerId, mediaId);
        const content = await media.content('post', request.params.id, file, { ...access, grantFor });
        return sendByteContent(request, reply, content, privateCache(request.query));
      },
    );

    app.delete(
      '/v1/media/:id',
      { preHandler: requireCaller, schema: { ...common, summary: 'Delete a media item and all its files', params: IdParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await media.remove(callerOf(request).userId, 'post', request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}

/** A signed link needs both halves; one without the other is a broken link, not an anonymous request. */
export function contentAccess(request: FastifyRequest, query: { exp?: number | undefined; sig?: string | undefined }): ContentAccess {
  const callerId = request.caller?.userId;
  if (query.exp === undefined && query.sig === undefined) return { callerId, signature: undefined };
  if (query.exp === undefined || query.sig === undefined) throw errors.forbidden('This link has expired or is not valid');
  return { callerId, signature: { exp: query.exp, sig: query.sig } };
}

/** Bytes never change under a URL; a signed one may be cached until it expires. */
export function privateCache(query: { exp?: number | undefined }): string {
  if (query.exp === undefined) return 'private, no-cache';
  const seconds = Math.max(0, query.exp - Math.floor(Date.now() / 1000));
  return `private, max-age=${seconds}, immutable`;
}
