import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Ajv } from 'ajv';
import { appPerFile } from './helpers/app.ts';

/** `/openapi.json` as a client generator or the UI's "Try it out" reads it: complete, and true to what the routes take. */

const { api } = appPerFile();
type Operation = { requestBody?: { required?: boolean; content: Record<string, { schema: any }> }; responses: Record<string, any>; tags?: string[] };
let doc: { info: { description: string }; paths: Record<string, Record<string, Operation>> };

before(async () => {
  doc = (await api.get('/openapi.json')).body;
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })));

const BINARY = { type: 'string', format: 'binary' };
const FILE_FORM = { type: 'object', properties: { file: BINARY }, required: ['file'] };

/** The content types a route's request body is documented in, each checked to be bytes (or a form with a `file`). */
function uploadTypes(path: string, method: string): string[] {
  const body = doc.paths[path]?.[method]?.requestBody;
  assert.ok(body !== undefined, `${method.toUpperCase()} ${path} documents its body`);
  assert.equal(body.required, true);
  for (const [type, { schema }] of Object.entries(body.content)) {
    if (type === 'multipart/form-data') assert.deepEqual(schema, FILE_FORM, type);
    else assert.deepEqual(schema, { ...BINARY, ...(!type.includes('*') && { contentMediaType: type }) }, `${path} ${type}`);
  }
  return Object.keys(body.content);
}

test('the raw-byte upload routes document their bodies as files, in each type they take', () => {
  assert.deepEqual(uploadTypes('/v1/media', 'post'), ['application/octet-stream', 'multipart/form-data', 'image/*', 'audio/*', 'video/*']);
  assert.deepEqual(uploadTypes('/v1/account/avatar', 'put'), ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'multipart/form-data']);
  const recording = uploadTypes('/v1/recordings/{fileName}', 'put');
  assert.equal(recording[0], 'application/octet-stream', 'the type the UI picks first is one the route takes');
  assert.ok(recording.slice(1).every((type) => /^audio\/[\w.+-]+$/.test(type)), recording.join());
  assert.deepEqual(uploadTypes('/v1/uploads/{uploadId}', 'patch'), ['application/offset+octet-stream']);
});

test('every operation documents a success, and every answer says what it is', () => {
  for (const { name, operation } of operations()) {
    const statuses = Object.keys(operation.responses);
    assert.ok(statuses.some((status) => /^[23]/.test(status)), `${name} documents a success: ${statuses.join()}`);
    for (const status of statuses) {
      assert.notEqual(operation.responses[status].description, 'Default Response', `${name} ${status}`);
    }
    assert.ok(operation.tags?.length, `${name} has a tag`);
  }
});

test('the service routes are documented with their answers', () => {
  const service = (path: string) => doc.paths[path]?.get ?? assert.fail(`GET ${path} is documented`);
  assert.deepEqual(service('/ping').responses['200'].content, { 'text/plain': { schema: { type: 'string', enum: ['pong'] } } });
  assert.deepEqual(Object.keys(service('/healthz').responses), ['200']);
  assert.deepEqual(Object.keys(service('/readyz').responses), ['200', '503']);
  assert.deepEqual(Object.keys(service('/readyz').responses['503'].content['application/json'].schema.properties), ['status', 'checks']);
  assert.ok(service('/metrics').responses['200'].content['text/plain']);
  assert.ok(service('/metrics').responses['403'], 'refused to others');
  assert.deepEqual(Object.keys(service('/openapi.json').responses), ['200', '304']);
  for (const path of ['/ping', '/healthz', '/readyz', '/metrics', '/openapi.json']) assert.deepEqual(service(path).tags, ['service'], path);
});

test('byte routes document the bytes they answer with', () => {
  const content = doc.paths['/v1/media/{id}/content']?.get ?? assert.fail('documented');
  assert.deepEqual(Object.keys(content.responses).filter((status) => /^[23]/.test(status)), ['200', '206', '302', '304']);
  assert.deepEqual(content.responses['200'].content['video/*'].schema, BINARY);
});

test('the description lists what is built, and nothing that is not', () => {
  const { description } = doc.info;
  const built = ['password', 'social sign-in', 'memos', 'media', 'recordings', 'posts', 'likes', 'follows', 'timelines', 'paid posts', 'coin', 'library', 'notifications'];
  for (const name of built) assert.match(description, new RegExp(name), name);
  for (const coming of ['push', 'live', 'stream', 'event']) assert.doesNotMatch(description, new RegExp(coming, 'i'), coming);
});

test('every schema in the document is a valid JSON Schema (the validator compiles them unchecked, to start faster)', () => {
  const ajv = new Ajv({ strict: false });
  const schemas = operations().flatMap(({ name, operation }) => {
    const bodies = Object.values(operation.requestBody?.content ?? {}).map(({ schema }) => schema);
    const parameters = ((operation as { parameters?: { schema: unknown }[] }).parameters ?? []).map(({ schema }) => schema);
    const responses = Object.values(operation.responses).flatMap((response) => Object.values(response.content ?? {}).map((media: any) => media.schema));
    return [...bodies, ...parameters, ...responses].map((schema) => ({ name, schema }));
  });
  assert.ok(schemas.length > 100, `${schemas.length} schemas`);
  for (const { name, schema } of schemas) assert.ok(ajv.validateSchema(schema), `${name}: ${ajv.errorsText()}`);
  assert.equal(ajv.validateSchema({ type: 'strng' }), false, 'a malformed schema is caught');
});

test('a body that may be left out is documented as optional; the others as required', async () => {
  const optional = ['DELETE /v1/account', 'PUT /v1/users/{handle}/follow', 'POST /v1/notifications/read'];
  for (const { name, operation } of operations()) {
    if (operation.requestBody === undefined) continue;
    assert.equal(operation.requestBody.required, !optional.includes(name), name);
  }
  // And each is accepted without one, as documented.
  const session = (await api.post('/v1/auth/signup', { email: `optional-${Date.now()}@example.com`, password: 'a long enough password', name: 'Opt' })).body;
  const read = await api.post('/v1/notifications/read', undefined, { token: session.accessToken });
  assert.equal(read.status, 204, read.text);
});
