import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { readAsset } from './assets.ts';
import { matchesIfNoneMatch } from './byte-content.ts';
import { Problem } from './problems.ts';
import { pagePolicy } from './security-headers.ts';

/** Where the Swagger UI is served, and its copy of the document (`/docs/json`). */
const DOCS_PREFIX = '/docs';

/** The client errors a route may answer, documented as problem documents (`Problem`). */
export type ClientErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 416 | 422 | 429;

/**
 * Documents problem answers for these statuses, beside a route's own responses: for the ones its
 * schema does not already imply (see `impliedProblems`), like `409` for a taken email.
 *
 *     response: { 201: Session, ...problemResponses(409, 429) }
 */
export function problemResponses(...statuses: ClientErrorStatus[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse(status)]));
}

function problemResponse(status: number) {
  return {
    description: STATUS_CODES[status],
    content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
  };
}

type DocumentedSchema = FastifySchema & { security?: Record<string, unknown>[]; consumes?: string[]; hide?: boolean };

const BINARY = { type: 'string', format: 'binary' } as const;

/**
 * The answers of a route that serves stored bytes (see `sendByteContent`), in `contentTypes`:
 * documentation only, since bytes are sent as streams and never serialized.
 *
 *     response: { ...byteContentResponses(['image/webp']), ...problemResponses(416) }
 */
export function byteContentResponses(contentTypes: string[]): Record<number, unknown> {
  const bytes = Object.fromEntries(contentTypes.map((type) => [type, { schema: BINARY }]));
  return {
    200: { description: 'The bytes', content: bytes },
    206: { description: 'The bytes of the one range asked for (`Range`), placed by `Content-Range`', content: bytes },
    302: { description: 'Where the storage backend serves the same bytes (`Location`)', type: 'null' },
    304: { description: 'Not modified: `If-None-Match` names their `ETag`', type: 'null' },
  };
}

/**
 * The client errors any route can answer because of what its schema declares: 400 when it
 * validates input or takes a body, 413 and 415 when it takes a body (a JSON `body`, or the uploads
 * `consumes` lists: too large, or another content type), 401 when it reads a bearer token (optional
 * ones too: a bad token is refused), 404 when its path names something. Problem documents are
 * sent already serialized, so declaring them never strips a field (`errors`, `limit`, …) from one.
 */
function impliedProblems(route: RouteOptions, schema: DocumentedSchema): number[] {
  const takesBody = schema.body !== undefined || schema.consumes !== undefined;
  const takesInput = takesBody || [schema.params, schema.querystring, schema.headers].some((part) => part !== undefined);
  const readsToken = (schema.security ?? []).some((requirement) => Object.keys(requirement).length > 0);
  return [
    ...(takesInput ? [400] : []),
    ...(readsToken ? [401] : []),
    ...(route.url.includes(':') ? [404] : []),
    ...(takesBody ? [413, 415] : []),
  ];
}

/**
 * Upload routes take their bodies unparsed (see `acceptStreamedUploads`), so they declare no `body`
 * for Fastify to validate; what they accept is their `consumes` list. The document describes those
 * as binary bodies (and a form's `file` field), so that the UI's "Try it out" offers a file picker.
 */
function uploadBodyOf(consumes: string[]) {
  const schemaFor = (type: string) =>
    type === 'multipart/form-data'
      ? { type: 'object', properties: { file: BINARY }, required: ['file'] }
      : { ...BINARY, ...(!type.includes('*') && { contentMediaType: type }) };
  return { content: Object.fromEntries(consumes.map((type) => [type, { schema: schemaFor(type) }])) };
}

type OpenApiDocument = { paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> } }>> };

/**
 * @fastify/swagger marks every body required. A body whose schema also admits `null` (Fastify
 * validates a missing body as null) may be left out, and the document says so.
 */
function withOptionalBodies(document: OpenApiDocument): OpenApiDocument {
  const admitsNull = (schema: unknown) =>
    typeof schema === 'object' && schema !== null && ((schema as { anyOf?: unknown[] }).anyOf ?? []).some((branch) => (branch as { type?: unknown }).type === 'null');
  for (const operation of Object.values(document.paths ?? {}).flatMap((path) => Object.values(path))) {
    const body = operation.requestBody;
    if (body !== undefined && Object.values(body.content ?? {}).some((media) => admitsNull(media.schema))) body.required = false;
  }
  return document;
}

/** What the document says of a route beyond its schema: its upload body, and what each answer is. */
function documented(schema: DocumentedSchema): DocumentedSchema {
  const response = schema.response as Record<string, { description?: string }> | undefined;
  const described = Object.fromEntries(
    Object.entries(response ?? {}).map(([status, answer]) => [status, { description: STATUS_CODES[status], ...answer }]),
  );
  return {
    ...schema,
    ...(schema.consumes !== undefined && schema.body === undefined && { body: uploadBodyOf(schema.consumes) }),
    ...(response !== undefined && { response: described }),
  };
}

/** What the document's description lists: what is built, and nothing announced. */
const DESCRIPTION =
  'Plaza, a self-hostable backend for a media-centred social network: accounts with a password or a social sign-in ' +
  '(ID tokens, access tokens and the web flow) and their sessions, profile images, private memos, media (photos, video ' +
  'and audio, with resumable tus uploads), recordings, posts, likes, follows and timelines, paid posts with a coin ' +
  'wallet and a library, and in-app notifications. Errors are RFC 9457 problem documents (`Problem`).';

/**
 * The OpenAPI 3.1 document is generated from the same route schemas that validate requests and
 * serialize answers, so it cannot drift from what the server does. Every documented route also
 * lists the client errors it can answer, each a `Problem` (one shared component).
 */
export async function registerOpenApi(app: FastifyInstance, site: { version: string; servedOverHttps: boolean }): Promise<void> {
  app.addSchema({ ...Problem, $id: 'Problem' });
  app.addHook('onRoute', (route) => {
    const schema = route.schema as DocumentedSchema | undefined;
    if (schema === undefined || schema.hide === true) return;
    const statuses = impliedProblems(route, schema);
    if (statuses.length === 0) return;
    const implied = Object.fromEntries(statuses.map((status) => [status, problemResponse(status)]));
    // Copies: routes may share their schema objects, and what one implies is not another's.
    route.schema = { ...schema, response: { ...implied, ...(schema.response as object | undefined) } };
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Plaza API', version: site.version, description: DESCRIPTION },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    // Only the document sees these additions: Fastify validates and serializes with the route's own schema.
    transform: ({ schema, url }) => ({ schema: schema === undefined ? schema : documented(schema as DocumentedSchema), url }),
    transformObject: (document) => ('openapiObject' in document ? withOptionalBodies(document.openapiObject as OpenApiDocument) : document.swaggerObject),
    // Shared schemas keep their own names in components.schemas (`Problem`), not `def-0`.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => String(json.$id ?? `def-${index}`) },
  });
  // Open to anyone: generated from the routes once, and serialized once too (70 KB, 1-6 ms each
  // time). Its ETag lets the UI, which fetches it on every page load, revalidate instead.
  let document: { body: string; etag: string } | undefined;
  const sendDocument = async (request: FastifyRequest, reply: FastifyReply) => {
    document ??= serialized(app.swagger());
    reply.header('etag', document.etag).header('cache-control', 'no-cache');
    if (matchesIfNoneMatch(request.headers['if-none-match'], document.etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(document.body);
  };
  // The UI's own copy (which it would serialize again for every request) is that same string.
  app.addHook('onRoute', (route) => {
    if (route.url === `${DOCS_PREFIX}/json`) route.handler = sendDocument;
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // The UI's own scripts and styles, its logo (a data: URL) and nothing from elsewhere.
    staticCSP: pagePolicy(
      {
        'default-src': "'self'",
        'base-uri': "'self'",
        'font-src': "'self' data:",
        'frame-ancestors': "'self'",
        'img-src': "'self' data:",
        'object-src': "'none'",
        'script-src': "'self'",
        'script-src-attr': "'none'",
        'style-src': "'self'",
      },
      site.servedOverHttps,
    ),
    logo: { type: 'image/svg+xml', content: readAsset('plaza-logo.svg') },
    theme: {
      title: 'Plaza API',
      favicon: [{ filename: 'plaza.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: readAsset('plaza-mark.svg') }],
    },
  });
  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['service'],
        summary: 'This document (also at /docs/json)',
        description: 'Generated from the schemas that validate requests. Revalidate with `If-None-Match` and its `ETag`.',
        response: {
          200: { description: 'The OpenAPI 3.1 document', type: 'object' },
          304: { description: 'Not modified: `If-None-Match` names its `ETag`', type: 'null' },
        },
      },
    },
    sendDocument,
  );
}

function serialized(document: unknown): { body: string; etag: string } {
  const body = JSON.stringify(document);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}
