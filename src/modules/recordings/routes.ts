import type { FastifyPluginAsync, preHandlerAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { sendByteContent } from '#http/byte-content.ts';
import { errors } from '#http/errors.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { acceptStreamedUploads, receiveUpload } from '#http/uploads.ts';
import { contentAccess, IdParams, privateCache, SignedLinkQuery } from '../media/routes.ts';
import { Recording } from '../media/schemas.ts';
import type { MediaService } from '../media/service.ts';

const FileNameParams = Type.Object({ fileName: Type.String({ minLength: 1, maxLength: 10_000 }) });
const ContentQuery = Type.Object(SignedLinkQuery, { additionalProperties: false });
/** What a recorder may declare its bytes as; the bytes themselves are sniffed all the same. */
const RECORDING_CONTENT_TYPE = /^(audio\/[\w.+-]+|application\/octet-stream)\s*(;|$)/i;

export function recordingRoutes(deps: {
  media: MediaService;
  requireCaller: preHandlerAsyncHookHandler;
  identifyCaller: preHandlerAsyncHookHandler;
}): FastifyPluginAsync {
  const { media, requireCaller, identifyCaller } = deps;
  return async (plugin) => {
    await acceptStreamedUploads(plugin);
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const common = { tags: ['recordings'], security: [{ bearer: [] }] };

    app.put(
      '/v1/recordings/:fileName',
      {
        preHandler: requireCaller,
        schema: {
          ...common,
          summary: 'Upload a recording; the file name is only a label',
          consumes: ['audio/*', 'application/octet-stream'],
          params: FileNameParams,
          response: { 201: Recording },
        },
      },
      async (request, reply) => {
        if (!RECORDING_CONTENT_TYPE.test(request.headers['content-type'] ?? '')) {
          throw errors.unsupportedMediaType('Send a recording as audio/* or application/octet-stream');
        }
        const { userId } = callerOf(request);
        const recording = await receiveUpload(request, request.params.fileName, (upload) => media.record(userId, upload));
        return reply.code(201).send(recording);
      },
    );

    app.get(
      '/v1/recordings',
      { preHandler: requireCaller, schema: { ...common, summary: 'Your recordings, newest first', querystring: PageQuery, response: { 200: Page(Recording) } } },
      async (request) => media.listRecordings(callerOf(request).userId, request.query),
    );

    app.get(
      '/v1/recordings/:id',
      { preHandler: requireCaller, schema: { ...common, summary: 'One of your recordings', params: IdParams, response: { 200: Recording } } },
      async (request) => media.getRecording(callerOf(request).userId, request.params.id),
    );

    app.get(
      '/v1/recordings/:id/content',
      {
        preHandler: identifyCaller,
        schema: {
          ...common,
          security: [{ bearer: [] }, {}],
          summary: 'The audio bytes (Range supported)',
          params: IdParams,
          querystring: ContentQuery,
        },
      },
      async (request, reply) => {
        const content = await media.content('recording', request.params.id, 'original', contentAccess(request, request.query));
        return sendByteContent(request, reply, content, privateCache(request.query));
      },
    );

    app.delete(
      '/v1/recordings/:id',
      { preHandler: requireCaller, schema: { ...common, summary: 'Delete a recording and its bytes', params: IdParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await media.remove(callerOf(request).userId, 'recording', request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
