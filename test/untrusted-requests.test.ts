import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { signUp, type TestSession } from './helpers/factories.ts';
import { client } from './helpers/http.ts';

/**
 * What the server builds from a request's own headers, and the work it does for anyone who asks:
 * neither may be the client's to choose. (Issue 9, section 1: "every place a URL is rebuilt, every
 * unauthenticated route that does expensive work".)
 */

let testApp: TestApp;
let alice: TestSession;

// Behind one proxy, as an operator would run it; PUBLIC_URL unset, so links are relative.
before(async () => {
  testApp = await startApp({ TRUST_PROXY: '1' });
  alice = await signUp(client(testApp));
});
after(() => testApp.close());

/** A raw request, so that `Host` is ours to write (fetch will not send another). */
function rawRequest(path: string, method: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(new URL(path, testApp.url), { method, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('URLs the server hands out', () => {
  test("a resumable upload's Location names no host or scheme the client wrote", async () => {
    const answer = await rawRequest('/v1/uploads', 'POST', {
      authorization: `Bearer ${alice.accessToken}`,
      'tus-resumable': '1.0.0',
      'upload-length': '10',
      host: 'attacker.example',
      'x-forwarded-host': 'attacker-forwarded.example',
      'x-forwarded-proto': 'http',
    });
    assert.equal(answer.status, 201);
    const location = String(answer.headers.location);
    // Relative, as every other link is without PUBLIC_URL: the client resolves it against the URL it used.
    assert.match(location, /^\/v1\/uploads\/[0-9A-Z]{26}$/, location);
  });

  test('with PUBLIC_URL, the Location is under it whatever the request says', async () => {
    const behindProxy = await startApp({ TRUST_PROXY: '1', PUBLIC_URL: 'https://plaza.example' });
    try {
      const session = await signUp(client(behindProxy));
      const answer = await fetch(new URL('/v1/uploads', behindProxy.url), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${session.accessToken}`,
          'tus-resumable': '1.0.0',
          'upload-length': '10',
          'x-forwarded-host': 'attacker-forwarded.example',
        },
      });
      assert.equal(answer.status, 201);
      assert.match(answer.headers.get('location') ?? '', /^https:\/\/plaza\.example\/v1\/uploads\/[0-9A-Z]{26}$/);
    } finally {
      await behindProxy.close();
    }
  });
});

describe('work done for anonymous callers', () => {
  test('readiness checks asked for at once share one probe of the database', async () => {
    const api = client(testApp);
    const pingsBefore = testApp.queries.filter((query) => query.trim() === 'select 1').length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => api.get('/readyz')));
    assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200]));
    const pings = testApp.queries.filter((query) => query.trim() === 'select 1').length - pingsBefore;
    // Anyone may ask: twenty at once must not take twenty of the pool's connections (nor make twenty S3 calls).
    assert.ok(pings <= 1, `${pings} database probes for 20 simultaneous readiness checks`);
  });
});

describe('answers for what does not exist', () => {
  test('a missing file under a wildcard route is 404, not 405 for the very method used', async () => {
    const answer = await fetch(new URL('/docs/static/no-such-file.css', testApp.url));
    assert.equal(answer.status, 404, `${answer.status} allow: ${answer.headers.get('allow')}`);
  });
});
