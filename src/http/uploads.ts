import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { exemptFromRequestTimeout } from './connections.ts';
import { AppError, errors } from './errors.ts';

/** An upload's bytes, unread, and what the client said about them. */
export type UploadBody = {
  body: NodeJS.ReadableStream & Readable;
  fileName: string | undefined;
  /** Content-Length of a raw body; undefined for multipart (its length includes the form's framing). */
  declaredBytes: number | undefined;
};

/**
 * Makes the routes of `app` (an encapsulated plugin) take upload bodies as unread streams: any
 * content type, raw or `multipart/form-data`, goes on to the handler without being buffered or
 * parsed — a JSON content type included, since the bytes are sniffed and not trusted from it —
 * for as long as the bytes keep coming.
 */
export async function acceptStreamedUploads(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  // The file's size is limited where it is stored (per kind, and by the quota), not by the form parser
  // (whose default would be BODY_LIMIT).
  await app.register(multipart, {
    limits: { fileSize: Number.MAX_SAFE_INTEGER, files: 1, fields: 10, fieldSize: 1024, parts: 11 },
  });
  exemptFromRequestTimeout(app);
}

/**
 * Hands the upload in `request` — a raw body, or the `file` field of a multipart form — to `store`.
 * A failure of the client's own stream (cut off mid-upload, a malformed form) is a `400`, not a
 * server error, whatever it broke on the way.
 */
export async function receiveUpload<T>(
  request: FastifyRequest,
  fileName: string | undefined,
  store: (upload: UploadBody) => Promise<T>,
): Promise<T> {
  const upload = await uploadBodyOf(request, fileName);
  let clientFault = false;
  upload.body.once('error', () => (clientFault = true));
  request.raw.once('aborted', () => (clientFault = true));
  try {
    return await store(upload);
  } catch (error) {
    if (error instanceof AppError || !clientFault) throw error;
    throw errors.invalidRequest('The upload was cut off or is malformed');
  }
}

async function uploadBodyOf(request: FastifyRequest, fileName: string | undefined): Promise<UploadBody> {
  if (!request.isMultipart()) {
    return { body: detachedBody(request.raw), fileName, declaredBytes: declaredLength(request) };
  }
  const part = await request.file().catch((error: unknown) => {
    throw errors.invalidRequest(`The multipart body is malformed: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (part === undefined || part.fieldname !== 'file') {
    throw errors.invalidRequest('A multipart upload needs its bytes in the field "file"', [
      { path: '/file', message: 'is required' },
    ]);
  }
  return { body: part.file, fileName: part.filename || fileName, declaredBytes: undefined };
}

/**
 * The request's body as a stream of its own, so that a store giving up on it (too large, the wrong
 * type) destroys this stream and not the request: the rest of the body can then still be read and
 * dropped after the answer, and the connection used again (see connections.ts).
 */
function detachedBody(raw: IncomingMessage): PassThrough {
  const body = new PassThrough();
  raw.pipe(body);
  raw.once('error', (error) => body.destroy(error));
  raw.once('close', () => {
    if (!raw.complete) body.destroy(Object.assign(new Error('The client went away before the body ended'), { code: 'ECONNRESET' }));
  });
  return body;
}

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined || !/^\d+$/.test(header) ? undefined : Number(header);
}
