import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { sql } from 'kysely';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp } from './helpers/factories.ts';
import { eventually } from './helpers/wait.ts';

let testApp: TestApp;
let api: Client;

before(async () => {
  testApp = await startApp({ CORS_ORIGINS: 'https://app.example.test' });
  api = client(testApp);
});
after(() => testApp.close());

describe('service routes', () => {
  it('answers ping, health and readiness', async () => {
    const ping = await api.get('/ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.text, 'pong');
    assert.match(ping.headers.get('content-type') ?? '', /^text\/plain/);
    assert.deepEqual((await api.get('/healthz')).body, { status: 'ok' });
    const ready = await api.get('/readyz');
    assert.equal(ready.status, 200);
    const redis = testApp.config.redisUrl === undefined ? {} : { redis: 'up' };
    assert.deepEqual(ready.body, { status: 'ok', checks: { database: 'up', storage: 'up', ...redis } });
  });

  it('checks readiness once for a burst of anonymous probes', async () => {
    const pings = () => testApp.queries.filter((query) => query === 'select 1').length;
    const before = pings();
    const answers = await Promise.all(Array.from({ length: 50 }, () => api.get('/readyz')));
    assert.ok(answers.every((answer) => answer.status === 200));
    assert.ok(pings() - before <= 2, `${pings() - before} database pings for 50 probes`);
  });

  it('reports not ready with 503 when the database stops answering', async () => {
    const broken = await startApp();
    try {
      await broken.deps.database.close();
      const ready = await client(broken).get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'unavailable');
      assert.equal(ready.body.checks.database, 'down');
      assert.equal(ready.body.checks.storage, 'up');
      assert.equal((await client(broken).get('/healthz')).status, 200, 'still alive');
    } finally {
      await broken.close();
    }
  });

  it('reports not ready with 503 when object storage cannot be written', async () => {
    // On S3, a bucket that does not exist; on local files, a blob directory that vanished.
    const s3 = process.env.S3_ENDPOINT !== undefined;
    const broken = await startApp(s3 ? { S3_BUCKET: 'plaza-no-such-bucket' } : {});
    try {
      if (!s3) rmSync(join(broken.config.dataDir, 'blobs'), { recursive: true });
      const ready = await client(broken).get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.storage, 'down');
      assert.equal(ready.body.checks.database, 'up');
    } finally {
      await broken.close();
    }
  });

  it('counts requests per route pattern in /metrics', async () => {
    await api.get('/v1/memos/some-id');
    await api.get('/v1/memos/other-id');
    await api.get('/no/such/route');
    const metrics = await api.get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(metrics.text, /http_requests_total\{method="GET",route="\/v1\/memos\/:id",status_code="401"\} 2/);
    assert.match(metrics.text, /http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/v1\/memos\/:id"/);
    assert.match(metrics.text, /route="unmatched",status_code="404"/);
    assert.doesNotMatch(metrics.text, /some-id|no\/such/, 'raw URLs never become labels');
  });

  it('describes every API route in /openapi.json and serves /docs', async () => {
    const doc = await api.get('/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    for (const [path, method] of [
      ['/v1/auth/signup', 'post'],
      ['/v1/auth/login', 'post'],
      ['/v1/auth/refresh', 'post'],
      ['/v1/auth/logout', 'post'],
      ['/v1/account', 'get'],
      ['/v1/account', 'patch'],
      ['/v1/account', 'delete'],
      ['/v1/account/password', 'put'],
      ['/v1/users/{handle}', 'get'],
      ['/v1/memos', 'get'],
      ['/v1/memos', 'post'],
      ['/v1/memos/{id}', 'patch'],
    ] as const) {
      assert.ok(doc.body.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
    }
    const signupBody = doc.body.paths['/v1/auth/signup'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(signupBody.required.sort(), ['email', 'name', 'password']);
    const docs = await api.get('/docs/');
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger/i);
    // Its page needs its own scripts and styles, not the API's policy that allows nothing.
    assert.match(docs.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });
});

describe('problem documents', () => {
  it('answers unknown routes with 404 not_found', async () => {
    assertProblem(await api.get('/v1/nothing-here'), 404, 'not_found');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const answer = await api.call('PUT', '/v1/memos');
    assertProblem(answer, 405, 'method_not_allowed');
    assert.equal(answer.headers.get('allow'), 'GET, HEAD, POST');
  });

  it('refuses bodies that are not JSON with 415', async () => {
    const session = await signUp(api);
    const answer = await api.call('POST', '/v1/memos', {
      token: session.accessToken,
      raw: 'text=hello',
      headers: { 'content-type': 'text/plain' },
    });
    assertProblem(answer, 415, 'unsupported_media_type');
  });

  it('refuses a 10 MB body with 413', async () => {
    const answer = await api.call('POST', '/v1/auth/signup', {
      raw: JSON.stringify({ email: 'big@example.test', password: 'x'.repeat(10 * 1024 * 1024), name: 'Big' }),
      headers: { 'content-type': 'application/json' },
    });
    assertProblem(answer, 413, 'payload_too_large');
  });

  it('answers malformed JSON with 400 and no internals', async () => {
    for (const raw of ['{"email":', '{"a":1}}', 'nul', '{"__proto__":{"admin":true}}']) {
      const answer = await api.call('POST', '/v1/auth/login', { raw, headers: { 'content-type': 'application/json' } });
      assertProblem(answer, 400, 'invalid_request');
    }
  });

  it('answers requests the HTTP parser refuses (oversized headers, garbage) with problem documents', async () => {
    const huge = await api.get(`/v1/media?fileName=${'x'.repeat(110_000)}`);
    assertProblem(huge, 431, 'headers_too_large');
    const garbage = await rawExchange(testApp.url, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /application\/problem\+json/);
    assert.match(garbage, /"code":"invalid_request"/);
  });

  it('lists each invalid field with its path', async () => {
    const answer = await api.post('/v1/auth/signup', { email: 'not-an-email', password: 'longenough', name: 'N' });
    assertProblem(answer, 400, 'invalid_request');
    assert.deepEqual(answer.body.errors, [{ path: '/email', message: 'must be an email address' }]);
    const missing = await api.post('/v1/auth/signup', { email: 'a@example.test', name: 'N' });
    assert.deepEqual(missing.body.errors, [{ path: '/password', message: 'is required' }]);
    const extra = await api.post('/v1/auth/login', { email: 'a@example.test', password: 'x', admin: true });
    assert.deepEqual(extra.body.errors, [{ path: '/admin', message: 'is not accepted (accepted: email, password)' }]);
  });
});

describe('request handling', () => {
  it('gives every answer a request id, keeping a sane one the client sent', async () => {
    const generated = await api.get('/ping');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const kept = await api.get('/ping', { headers: { 'x-request-id': 'trace-abc.123' } });
    assert.equal(kept.headers.get('x-request-id'), 'trace-abc.123');
    for (const unsafe of ['has spaces <and> "quotes"', 'x'.repeat(500)]) {
      const replaced = await api.get('/ping', { headers: { 'x-request-id': unsafe } });
      assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    }
    const problem = await api.get('/nope', { headers: { 'x-request-id': 'trace-404' } });
    assert.equal(problem.body.requestId, 'trace-404');
  });

  it('sets security headers', async () => {
    const answer = await api.get('/healthz');
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(answer.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.ok(answer.headers.get('content-security-policy'));
    assert.ok(answer.headers.get('strict-transport-security'));
  });

  it('allows CORS only for configured origins', async () => {
    const preflight = await api.call('OPTIONS', '/v1/memos', {
      headers: {
        origin: 'https://app.example.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.test');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PATCH/);
    const foreign = await api.get('/healthz', { headers: { origin: 'https://evil.example.test' } });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  });

  it('keeps passwords, tokens and authorization headers out of the logs', async () => {
    const session = await signUp(api, { password: 'hunter2-very-secret' });
    await api.post('/v1/auth/login', { email: session.user.email, password: 'hunter2-very-secret' });
    await api.get('/v1/account', { token: session.accessToken });
    await api.get(`/v1/account?access_token=${session.accessToken}`);
    await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken });
    const written = JSON.stringify(testApp.logs);
    assert.ok(testApp.logs.length > 0);
    assert.ok(!written.includes('hunter2-very-secret'), 'password leaked');
    assert.ok(!written.includes(session.accessToken), 'access token leaked');
    assert.ok(!written.includes(session.refreshToken), 'refresh token leaked');
    assert.ok(written.includes('access_token=%5Bredacted%5D'));
  });
});

describe('shutdown', () => {
  it('lets a handler whose client hung up finish before closing the database', async () => {
    const closing = await startApp();
    const closingApi = client(closing);
    const session = await signUp(closingApi);
    const { db } = closing.deps.database;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Hold a lock the request's session check needs, so its handler is still running at close.
    const holder = db.transaction().execute(async (trx) => {
      await sql`lock table auth_sessions in access exclusive mode`.execute(trx);
      await released;
    });
    const abandoned = new AbortController();
    const request = fetch(`${closing.url}/v1/memos`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
      signal: abandoned.signal,
    }).catch(() => 'aborted');
    // Once the server has the request, hanging up does not stop its handler.
    const received = (line: Record<string, unknown>) => line.msg === 'incoming request' && (line.req as { url?: string }).url === '/v1/memos';
    await eventually(async () => assert.ok(closing.logs.some(received)));
    abandoned.abort();
    assert.equal(await request, 'aborted');
    const closed = closing.close();
    setTimeout(release, 200);
    await Promise.all([holder, closed]);
    const failures = closing.logs.filter((line) => Number(line.level) >= 50);
    assert.deepEqual(failures, []);
  });
});

/** Sends raw bytes on a fresh connection and resolves with everything the server answered. */
function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
