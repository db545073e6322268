import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { appPerFile } from './helpers/app.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { putRecording, uploadAndSettle } from './helpers/media.ts';
import { imageSample, wavSample } from './helpers/media-samples.ts';
import { jobsIdle } from './helpers/wait.ts';

/** Byte answers to HEAD, the not-found answer of wildcard routes, and the documents /docs serves. */

const shared = appPerFile();
const { api } = shared;

describe('HEAD on stored bytes', () => {
  /** About 8 MB: 500 s of 8 kHz 16-bit mono. */
  const wav = wavSample(500);
  let alice: TestSession;
  let paths: { media: string; recording: string; avatar: string };

  before(async () => {
    alice = await signUp(api);
    const media = await uploadAndSettle(api, alice.accessToken, wav, { fileName: 'long.wav' });
    assert.equal(media.status, 'ready');
    const recording = await putRecording(api, alice.accessToken, 'long.wav', wav);
    assert.equal(recording.status, 201, recording.text);
    const avatar = await api.call('PUT', '/v1/account/avatar', {
      token: alice.accessToken,
      raw: await imageSample('png'),
      headers: { 'content-type': 'image/png' },
    });
    assert.equal(avatar.status, 200, avatar.text);
    // The recording's signed link: no token needed, as anyone a link reached would send it.
    const signed = new URL(recording.body.url, shared.testApp.url);
    paths = {
      media: `/v1/media/${media.id}/content`,
      recording: `${signed.pathname}${signed.search}`,
      avatar: `/v1/users/${alice.user.handle}/avatar?size=large`,
    };
  });

  const send = (method: 'GET' | 'HEAD', path: string, headers: Record<string, string> = {}) =>
    fetch(new URL(path, shared.testApp.url), {
      method,
      headers: path.startsWith('/v1/media/') ? { authorization: `Bearer ${alice.accessToken}`, ...headers } : headers,
    });

  it('answers with the headers GET has, for the whole file, a range, and a match', async () => {
    for (const [what, path] of Object.entries(paths)) {
      const got = await send('GET', path);
      const body = Buffer.from(await got.arrayBuffer());
      const head = await send('HEAD', path);
      assert.equal(head.status, 200, what);
      for (const name of ['content-length', 'content-type', 'etag', 'accept-ranges', 'content-disposition']) {
        assert.equal(head.headers.get(name), got.headers.get(name), `${what}: ${name}`);
      }
      // A signed link's answer may be cached for as long as the link has left, which ticks down.
      const cacheControl = (answer: Response) => answer.headers.get('cache-control')?.replace(/\d+/, 'N');
      assert.equal(cacheControl(head), cacheControl(got), `${what}: cache-control`);
      assert.equal(head.headers.get('content-length'), String(body.length), what);
      assert.equal((await head.arrayBuffer()).byteLength, 0, `${what}: no body`);

      const range = await send('HEAD', path, { range: 'bytes=10-19' });
      assert.equal(range.status, 206, what);
      assert.equal(range.headers.get('content-range'), `bytes 10-19/${body.length}`, what);
      assert.equal(range.headers.get('content-length'), '10', what);

      const unsatisfiable = await send('HEAD', path, { range: `bytes=${body.length}-` });
      assert.equal(unsatisfiable.status, 416, what);
      assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${body.length}`, what);

      const cached = await send('HEAD', path, { 'if-none-match': got.headers.get('etag') ?? '' });
      assert.equal(cached.status, 304, what);
    }
  });

  it('reads none of the bytes from storage', { skip: !existsSync('/proc/self/io') && 'needs /proc/self/io (Linux)' }, async () => {
    // What this process has read, from files and sockets alike (the app runs in it, and on S3 reads
    // the object over a socket): a HEAD that read its file would add the whole file each time.
    const bytesRead = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
    await jobsIdle(shared.testApp);
    const heads = 20;
    const before = bytesRead();
    for (const path of [paths.media, paths.recording]) {
      const answers = await Promise.all(Array.from({ length: heads }, () => send('HEAD', path)));
      assert.deepEqual(answers.map((answer) => answer.status), Array(heads).fill(200));
      // Read after the HEADs and to its end, so reading their bodies, had it begun, has run its course.
      const whole = await send('GET', path);
      assert.equal((await whole.arrayBuffer()).byteLength, wav.length);
    }
    const read = bytesRead() - before;
    // Each GET is read at most three times here: from storage (the file, or S3's socket), by the
    // app from S3 and by the client; the HEADs, had they read the file, 2 × 20 times.
    assert.ok(read < 10 * wav.length, `${(read / wav.length).toFixed(1)} times the file's size read`);
  });
});

describe('a wildcard route that finds nothing', () => {
  it('answers 404 to a method it takes, and 405 to one it does not', async () => {
    const missing = await api.get('/docs/static/no-such-file.css');
    assertProblem(missing, 404, 'not_found');
    assert.equal(missing.headers.get('allow'), null);
    const head = await fetch(new URL('/docs/static/no-such-file.css', shared.testApp.url), { method: 'HEAD' });
    assert.equal(head.status, 404);
    const post = await api.post('/docs/static/no-such-file.css', {});
    assertProblem(post, 405, 'method_not_allowed');
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

describe('the API description', () => {
  it('is the same document at /openapi.json and /docs/json, serialized once, with one ETag', async () => {
    const document = await fetch(new URL('/openapi.json', shared.testApp.url));
    const text = await document.text();
    const etag = document.headers.get('etag');
    assert.match(etag ?? '', /^"[\w-]+"$/, 'a strong ETag');
    for (const path of ['/openapi.json', '/docs/json']) {
      const again = await fetch(new URL(path, shared.testApp.url));
      assert.equal(again.status, 200, path);
      assert.equal(again.headers.get('content-type'), 'application/json; charset=utf-8', path);
      assert.equal(again.headers.get('etag'), etag, path);
      assert.equal(await again.text(), text, path);
      const unchanged = await fetch(new URL(path, shared.testApp.url), { headers: { 'if-none-match': etag ?? '' } });
      assert.equal(unchanged.status, 304, path);
      assert.equal(await unchanged.text(), '', path);
    }
    assert.equal(JSON.parse(text).openapi, '3.1.0');
  });
});
