import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { errors } from './errors.ts';

/** An upload's bytes, unread, and what the client said about them. */
export type UploadBody = {
  body: NodeJS.ReadableStream & import('node:stream').Readable;
  fileName: string | undefined;
  /** Content-Length of a raw body; undefined for multipart (its length includes the form's framing). */
  declaredBytes: number | undefined;
};

/**
 * Makes the routes of `app` (an encapsulated plugin) take upload bodies as unread streams: any
 * content type, raw or `multipart/form-data`, goes on to the handler without being buffered or
 * parsed — a JSON content type included, since the bytes are sniffed and not trusted from it.
 */
export async function acceptStreamedUploads(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  await app.register(multipart, { limits: { files: 1, fields: 10, fieldSize: 1024, parts: 11 } });
  // A refused upload is answered before its body is read: close the connection rather than drain it.
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode >= 400 && !request.raw.complete) reply.header('connection', 'close');
  });
}

/** The upload in `request`: a raw body, or the `file` field of a multipart form. */
export async function uploadBodyOf(request: FastifyRequest, fileName: string | undefined): Promise<UploadBody> {
  if (!request.isMultipart()) {
    return { body: request.raw, fileName, declaredBytes: declaredLength(request) };
  }
  const part = await request.file();
  if (part === undefined || part.fieldname !== 'file') {
    throw errors.invalidRequest('A multipart upload needs its bytes in the field "file"', [
      { path: '/file', message: 'is required' },
    ]);
  }
  return { body: part.file, fileName: part.filename || fileName, declaredBytes: undefined };
}

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined || !/^\d+$/.test(header) ? undefined : Number(header);
}
