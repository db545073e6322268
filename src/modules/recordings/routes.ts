import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { sendByteContent } from '#http/byte-content.ts';
import { errors } from '#http/errors.ts';
import { byteContentResponses, problemResponses } from '#http/openapi.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { privateCache, signatureOf, SignedLinkQuery } from '#http/signed-link-query.ts';
import { acceptStreamedUploads, receiveUpload } from '#http/uploads.ts';
import { MAX_PATH_SEGMENT_LENGTH } from '#http/validation.ts';
import { Recording } from '../media/schemas.ts';
import type { MediaService } from '../media/service.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
// No longer than any path segment is read; the stored label is cut to 255 characters anyway.
const FileNameParams = Type.Object({ fileName: Type.String({ minLength: 1, maxLength: MAX_PATH_SEGMENT_LENGTH }) });
const ContentQuery = Type.Object(SignedLinkQuery, { additionalProperties: false });
/** What a recorder may declare its bytes as; the bytes themselves are sniffed all the same. */
const RECORDING_CONTENT_TYPE = /^(audio\/[\w.+-]+|application\/octet-stream)\s*(;|$)/i;

export function recordingRoutes(deps: {
  media: Pick<MediaService, 'record' | 'listRecordings' | 'getRecording' | 'content' | 'remove'>;
  requireCaller: onRequestAsyncHookHandler;
  identifyCaller: onRequestAsyncHookHandler;
}): FastifyPluginAsync {
  const { media, requireCaller, identifyCaller } = deps;
  return async (plugin) => {
    await acceptStreamedUploads(plugin);
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Tokens are checked on onRequest, before the body is read or validated: a bad one is 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['recordings'], security: [{ bearer: [] }] } } as const;
    const anyone = { onRequest: identifyCaller, schema: { tags: ['recordings'], security: [{ bearer: [] }, {}] } } as const;

    app.put(
      '/v1/recordings/:fileName',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Upload a recording; the file name is only a label',
          description: 'Any `audio/*` Content-Type, or `application/octet-stream`: the type is sniffed from the bytes.',
          consumes: ['application/octet-stream', 'audio/webm', 'audio/mp4', 'audio/mpeg', 'audio/ogg', 'audio/wav', 'audio/aac', 'audio/flac'],
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
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Your recordings, newest first', querystring: PageQuery, response: { 200: Page(Recording) } } },
      async (request) => media.listRecordings(callerOf(request).userId, request.query),
    );

    app.get(
      '/v1/recordings/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'One of your recordings', params: IdParams, response: { 200: Recording } } },
      async (request) => media.getRecording(callerOf(request).userId, request.params.id),
    );

    app.get(
      '/v1/recordings/:id/content',
      {
        ...anyone,
        schema: {
          ...anyone.schema,
          summary: 'The audio bytes (Range supported)',
          params: IdParams,
          querystring: ContentQuery,
          // 403: a signed link not made for this recording, or expired.
          response: { ...byteContentResponses(['audio/*']), ...problemResponses(403, 416) },
        },
      },
      async (request, reply) => {
        const access = { callerId: request.caller?.userId, signature: signatureOf(request.query) };
        const content = await media.content('recording', request.params.id, 'original', access);
        return sendByteContent(request, reply, content, privateCache(request.query));
      },
    );

    app.delete(
      '/v1/recordings/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Delete a recording and its bytes', params: IdParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await media.remove(callerOf(request).userId, 'recording', request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
