import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import Type from 'typebox';
import { AppError, errors } from './errors.ts';
import { invalidInput, JSON_BODY_REQUIRED, longPathSegmentError, MAX_PATH_SEGMENT_LENGTH } from './validation.ts';

/** RFC 9457 problem document, as every error answer carries it. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.String(),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { title: 'Problem', additionalProperties: true },
);

/** The stable `code` of each client-error status, where nothing more specific is known. */
export const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  410: 'gone',
  411: 'length_required',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/**
 * Installs the one error handler and the not-found handler. Anything that is not a known client
 * error is logged and answered as a bare 500, so no stack trace or internal message leaks.
 */
export function registerProblemHandlers(app: FastifyInstance): void {
  const routes = FindMyWay({ maxParamLength: MAX_PATH_SEGMENT_LENGTH });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods.map((m) => m.toUpperCase() as HTTPMethod)) {
      if (!routes.hasRoute(method, route.url)) routes.on(method, route.url, () => {});
    }
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    const allowed = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].filter(
      (method) => routes.find(method as HTTPMethod, path) !== null,
    );
    // A route that takes this method and still finds nothing (a wildcard's missing file) is a 404.
    const wrongMethod = allowed.length > 0 && !allowed.includes(request.method);
    const error = wrongMethod ? errors.methodNotAllowed(allowed) : errors.notFound('route');
    sendProblem(request, reply, error);
  });

  app.setErrorHandler(sendErrorAsProblem);
}

/** Renders any error as a problem document; also given to Fastify for errors raised before routing. */
export function sendErrorAsProblem(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(request, reply, toAppError(error, request));
}

function toAppError(error: FastifyError, request: FastifyRequest): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) return invalidInput(error.validationContext, error.validation, request.body);
  // Only JSON bodies reach Fastify's parsers: upload routes take any type and read their own bytes.
  const takesBody = () => request.routeOptions.schema?.body !== undefined;
  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return longPathSegmentError(request.url) ?? errors.uriTooLong(`A path segment is longer than ${MAX_PATH_SEGMENT_LENGTH} characters`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(
        takesBody()
          ? 'This route takes a JSON body: send Content-Type: application/json'
          : 'This route takes no body: send none, or a JSON one with Content-Type: application/json',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalidRequest(takesBody() ? JSON_BODY_REQUIRED : 'The body is empty but Content-Type says JSON: send JSON or drop the header');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalidRequest('The body is not valid JSON (its Content-Type says application/json)');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(request.routeOptions.bodyLimit);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    if (status === 413) return errors.payloadTooLarge();
    if (status === 415) return errors.unsupportedMediaType();
    // Framework-detected client errors (malformed JSON, bad content length, …): their messages are
    // written for clients and carry no internals.
    return new AppError(status, CODE_BY_STATUS[status] ?? 'invalid_request', error.message);
  }
  request.log.error({ err: error }, 'unhandled error');
  return new AppError(500, 'internal_error', 'Something went wrong on our side');
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError): void {
  const title = STATUS_CODES[error.status] ?? 'Error';
  const body = {
    type: `urn:plaza:problem:${error.code}`,
    title,
    status: error.status,
    code: error.code,
    detail: error.message,
    requestId: String(request.id),
    ...error.extra,
  };
  reply
    .code(error.status)
    .headers(error.headers)
    .type('application/problem+json; charset=utf-8')
    .send(JSON.stringify(body));
}

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it (headers too large, a malformed
 * request line) with a problem document too, then closes the connection.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const code = CODE_BY_STATUS[status] ?? 'invalid_request';
  const body = JSON.stringify({
    type: `urn:plaza:problem:${code}`,
    title: STATUS_CODES[status],
    status,
    code,
    // The request line counts towards Node's header limit, so an over-long URL ends here too.
    detail: status === 431 ? `The URL and headers together are larger than ${maxHeaderSize} bytes, the most this server reads` : 'The request could not be parsed',
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
