import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { assertProblem, signUp } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';

let testApp: TestApp;
let api: Client;
let doc: { components: { schemas: Record<string, any> }; paths: Record<string, Record<string, { responses: Record<string, any> }>> };

before(async () => {
  testApp = await startApp();
  api = client(testApp);
  doc = (await api.get('/openapi.json')).body;
});
after(() => testApp.close());

const PROBLEM = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

/** The statuses a route's documented client errors have, each checked to be a Problem. */
function problemStatuses(path: string, method: string): string[] {
  const responses = doc.paths[path]?.[method]?.responses;
  assert.ok(responses !== undefined, `${method.toUpperCase()} ${path} is described`);
  const statuses = Object.keys(responses).filter((status) => status.startsWith('4'));
  for (const status of statuses) assert.deepEqual(responses[status].content, PROBLEM, `${method} ${path} ${status}`);
  return statuses;
}

test('/openapi.json describes error answers with one Problem component', () => {
  const problem = doc.components.schemas.Problem;
  assert.equal(problem.type, 'object');
  for (const field of ['type', 'title', 'status', 'code', 'detail', 'errors']) assert.ok(field in problem.properties, field);

  assert.deepEqual(problemStatuses('/v1/auth/signup', 'post'), ['400', '409', '413', '415', '429']);
  assert.deepEqual(problemStatuses('/v1/users/{handle}/follow', 'put'), ['400', '401', '404', '409', '413', '415'], 'its optional body too');
  assert.deepEqual(problemStatuses('/v1/posts/{id}', 'delete'), ['400', '401', '403', '404']);
  assert.deepEqual(problemStatuses('/v1/timelines/public', 'get'), ['400', '401'], 'an optional token may still be refused');
  assert.deepEqual(problemStatuses('/v1/media', 'post'), ['400', '401', '413', '415'], 'an upload, by what it consumes');
  assert.deepEqual(problemStatuses('/healthz', 'get'), [], 'a route that takes nothing answers no client error');
});

test('byte routes and tus routes list the errors only they answer', () => {
  assert.deepEqual(problemStatuses('/v1/media/{id}/content', 'get'), ['400', '401', '402', '403', '404', '416']);
  assert.deepEqual(problemStatuses('/v1/recordings/{id}/content', 'get'), ['400', '401', '403', '404', '416']);
  assert.deepEqual(problemStatuses('/v1/users/{handle}/avatar', 'get'), ['400', '404', '416']);
  // 409: too many open uploads (creation), an Upload-Offset other than the upload's (PATCH).
  assert.deepEqual(problemStatuses('/v1/uploads', 'post'), ['400', '401', '409', '413', '415']);
  assert.deepEqual(problemStatuses('/v1/uploads/{uploadId}', 'patch'), ['400', '401', '404', '409', '413', '415']);
});

test('every 4xx documented anywhere is a Problem', () => {
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) problemStatuses(path, method);
  }
});

test('documented error shapes strip nothing from the problem documents sent', async () => {
  const invalid = await api.post('/v1/auth/signup', { email: 'not-an-email', password: 'long enough password', name: 'N' });
  assertProblem(invalid, 400, 'invalid_request');
  assert.deepEqual(invalid.body.errors, [{ path: '/email', message: 'must be an email address' }]);
  assert.equal(typeof invalid.body.requestId, 'string');

  const taken = await signUp(api);
  const again = await api.post('/v1/auth/signup', { email: taken.user.email, password: 'long enough password', name: 'N' });
  assertProblem(again, 409, 'email_taken');
  assert.match(again.body.detail, /already exists/);
});
