import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { AppError, errors } from '#http/errors.ts';
import { problemResponses } from '#http/openapi.ts';
import { CODE_BY_STATUS } from '#http/problems.ts';
import { exemptFromRequestTimeout } from '#http/connections.ts';
import { UPLOADS_PATH, type UploadsService } from './service.ts';

export type UploadRouteDeps = {
  uploads: UploadsService;
  requireCaller: onRequestAsyncHookHandler;
};

const UploadParams = Type.Object({
  uploadId: Type.String({ pattern: '^[0-9A-Za-z]{1,64}$', description: 'The id at the end of the upload URL (`Location`)' }),
});

const UploadState = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal('uploading'), Type.Literal('completing'), Type.Literal('done'), Type.Literal('failed')], {
      description: '`done` once the last byte has landed and the media item exists; `failed` when its bytes were refused',
    }),
    mediaId: Type.Union([Type.String(), Type.Null()], { description: 'The media item the upload became, once `done`' }),
    offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Bytes received so far' })),
    length: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Upload-Length; null while deferred' })),
    error: Type.Optional(
      Type.Object({ status: Type.Integer(), code: Type.String(), detail: Type.String() }, { description: 'Why the bytes were refused' }),
    ),
  },
  { title: 'UploadState' },
);

/** tus's own headers go back to the client; CORS headers are the app's, lengths are Fastify's. */
const DROPPED_HEADERS = /^(access-control-|content-length$|content-type$|connection$)/i;

/**
 * tus 1.0 at `/v1/uploads` (creation, creation-with-upload, termination, expiration), for signed-in
 * callers only, plus `GET /v1/uploads/{uploadId}` telling where an upload stands. The tus methods go
 * to @tus/server as web requests with unread bodies, and its answers go back through Fastify, so
 * the app's hooks (security headers, CORS, request ids, metrics) apply to them like to any route.
 */
export function uploadRoutes(deps: UploadRouteDeps): FastifyPluginAsync {
  const { uploads, requireCaller } = deps;
  return async (plugin) => {
    // Bodies stay unread: tus streams them to storage.
    plugin.removeAllContentTypeParsers();
    plugin.addContentTypeParser('*', (_request, _payload, done) => done(null));
    exemptFromRequestTimeout(plugin);
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Before anything is read or validated: without a valid token the answer is 401, whatever was sent;
    // then a target naming anything but the one upload checked is refused.
    const signedIn = { onRequest: [requireCaller, refuseOtherTargets], schema: { tags: ['uploads'], security: [{ bearer: [] }] } };
    const tusHeaders = 'tus 1.0 headers: `Tus-Resumable: 1.0.0`, and as the protocol asks for the method';

    app.post(
      UPLOADS_PATH,
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'tus: create a resumable upload (optionally with its first bytes)',
          description: `${tusHeaders}: \`Upload-Length\` (at most ${uploads.maxBytes} bytes) or \`Upload-Defer-Length: 1\`, optional \`Upload-Metadata\` (\`filename\`, \`filetype\`), and with a body \`Content-Type: application/offset+octet-stream\`. Answers \`201\` with the upload URL in \`Location\`; \`413\` when the upload could not fit in the quota beside your media and unfinished uploads, \`409 too_many_open_uploads\` when you have ${uploads.maxOpenPerUser} unfinished ones.`,
          consumes: ['application/offset+octet-stream'],
          response: { 201: { description: 'Created: the upload URL is in `Location`', type: 'null' }, ...problemResponses(409) },
        },
      },
      (request, reply) => forward(request, reply, undefined),
    );

    const onUpload = { ...signedIn.schema, params: UploadParams };
    app.head(
      `${UPLOADS_PATH}/:uploadId`,
      { ...signedIn, schema: { ...onUpload, summary: 'tus: how many bytes of the upload have arrived (`Upload-Offset`)' } },
      (request, reply) => forward(request, reply, request.params.uploadId),
    );
    app.patch(
      `${UPLOADS_PATH}/:uploadId`,
      {
        ...signedIn,
        schema: {
          ...onUpload,
          summary: 'tus: append bytes at `Upload-Offset`',
          description: `${tusHeaders}: \`Upload-Offset\`, \`Content-Type: application/offset+octet-stream\`. The request bringing the last byte answers once the media item exists, or with the problem that refused its bytes (\`413\`, \`415\`). On a deferred-length upload, bytes (or an \`Upload-Length\`) past the quota are refused with \`413\`, and none past it is kept.`,
          consumes: ['application/offset+octet-stream'],
          response: { 204: { description: 'The bytes are kept: `Upload-Offset` says how many there are now', type: 'null' }, ...problemResponses(409) },
        },
      },
      (request, reply) => forward(request, reply, request.params.uploadId),
    );
    app.delete(
      `${UPLOADS_PATH}/:uploadId`,
      {
        ...signedIn,
        schema: {
          ...onUpload,
          summary: 'tus: terminate an unfinished upload and remove its bytes',
          response: { 204: { description: 'Terminated', type: 'null' }, ...problemResponses(409) },
        },
      },
      (request, reply) => forward(request, reply, request.params.uploadId),
    );
    app.get(
      `${UPLOADS_PATH}/:uploadId`,
      {
        ...signedIn,
        exposeHeadRoute: false,
        schema: {
          ...onUpload,
          summary: 'Where one of your uploads stands: its media item once the last byte has landed',
          response: { 200: UploadState },
        },
      },
      async (request) => uploads.state(callerOf(request).userId, request.params.uploadId),
    );
  };

  async function forward(request: FastifyRequest, reply: FastifyReply, uploadId: string | undefined) {
    const { response, refusal } = await uploads
      .handle({
        ownerId: callerOf(request).userId,
        method: request.method,
        uploadId,
        headers: headersOf(request),
        body: hasBody(request) ? bodyOf(request.raw) : undefined,
      })
      .catch((error: unknown) => {
        throw error instanceof AppError ? withTusHeader(error) : error;
      });
    if (refusal !== undefined) throw withTusHeader(refusal);
    if (response.status >= 400) throw await tusProblem(response);
    reply.code(response.status);
    response.headers.forEach((value, name) => {
      if (!DROPPED_HEADERS.test(name)) reply.header(name, value);
    });
    await response.body?.cancel();
    return reply.send();
  }
}

/**
 * Each upload route answers to one request target: the upload URL exactly as `Location` gave it.
 * Anything around or inside it (`#…`, a second id, a query, encoded or doubled slashes, dot
 * segments) could be read as naming another upload than the one checked, so it is refused at once.
 */
async function refuseOtherTargets(request: FastifyRequest): Promise<void> {
  const { uploadId } = request.params as { uploadId?: string };
  const target = uploadId === undefined ? UPLOADS_PATH : `${UPLOADS_PATH}/${uploadId}`;
  if (request.url !== target) {
    throw errors.invalidRequest(`The request target must be the upload URL as given, ${UPLOADS_PATH}[/<uploadId>], and nothing more`);
  }
}

function headersOf(request: FastifyRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

function hasBody(request: FastifyRequest): boolean {
  return (
    (request.method === 'POST' || request.method === 'PATCH') &&
    (request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0)
  );
}

/**
 * The request's body as a web stream that errors when the client goes away mid-body (with
 * `Readable.toWeb` it did not, and tus then waited for the rest forever), read as tus pulls it.
 */
function bodyOf(raw: IncomingMessage): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        raw.on('data', (chunk: Buffer) => {
          if (settled) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) raw.pause();
        });
        raw.once('end', () => {
          if (settled) return;
          settled = true;
          controller.close();
        });
        const fail = (error: Error) => {
          if (settled) return;
          settled = true;
          controller.error(error);
        };
        raw.once('error', fail);
        raw.once('close', () => {
          if (!raw.complete) fail(Object.assign(new Error('The client went away before the body ended'), { code: 'ECONNRESET' }));
        });
        raw.pause();
      },
      pull() {
        raw.resume();
      },
      cancel() {
        // tus stopped reading (it refused the request): the rest is left unread; the connection closes.
        settled = true;
        raw.pause();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 1024 * 1024 }),
  );
}

/** A tus error answer as a problem document, keeping its status and its text as the detail. */
async function tusProblem(response: Response): Promise<AppError> {
  const detail = (await response.text()).trim() || 'The tus request was refused';
  const status = response.status;
  return withTusHeader(new AppError(status, CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'invalid_request'), detail));
}

/** Every tus answer but OPTIONS carries Tus-Resumable, errors included. */
function withTusHeader(error: AppError): AppError {
  return new AppError(error.status, error.code, error.message, {
    extra: { ...error.extra },
    headers: { ...error.headers, 'tus-resumable': '1.0.0' },
  });
}
