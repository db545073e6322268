import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLinkSigner } from '../../src/http/signed-links.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { client, type Client } from '../helpers/http.ts';
import { assertProblem, signUp, type TestSession } from '../helpers/factories.ts';
import { assertNoErrorLogs, blobKeys, fetchBytes, uploadAndSettle } from '../helpers/media.ts';
import { eventually, jobsIdle } from '../helpers/wait.ts';
import * as samples from '../helpers/media-samples.ts';

/** Long enough that links made in `before` are valid through every test, even on a loaded machine. */
const TTL = 600;

let testApp: TestApp;
let api: Client;
let alice: TestSession;
let bob: TestSession;
let png: Buffer;
let image: any;
let audio: any;
let wav: Buffer;

before(async () => {
  testApp = await startApp({ SIGNED_URL_TTL: String(TTL) });
  api = client(testApp);
  [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
  png = await samples.imageSample('png');
  wav = samples.wavSample(1);
  [image, audio] = await Promise.all([
    uploadAndSettle(api, alice.accessToken, png, { fileName: 'holiday "beach"\r\n\u202Egnp.exe' }),
    uploadAndSettle(api, alice.accessToken, wav, { fileName: 'voice.wav' }),
  ]);
  assert.equal(image.status, 'ready');
  assert.equal(audio.status, 'ready');
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});

const content = (id: string, query = '') => `/v1/media/${id}/content${query}`;
const owner = (headers: Record<string, string> = {}) => ({ token: alice.accessToken, headers });

/** fetchBytes' answer in the shape assertProblem takes. */
async function problem(path: string, options: { token?: string; headers?: Record<string, string> } = {}) {
  const answer = await fetchBytes(testApp, path, options);
  return { status: answer.status, headers: answer.headers, body: answer.json ?? {}, text: answer.bytes.toString('utf8') };
}

/** A link's query with some of its parameters replaced (or removed, for undefined). */
function withQuery(link: string, changes: Record<string, string | undefined>): string {
  const url = new URL(link, testApp.url);
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  return `${url.pathname}${url.search}`;
}

describe('GET /v1/media/{id}/content serves the bytes as they came', () => {
  it('to the owner with a bearer token, with safe headers', async () => {
    const answer = await fetchBytes(testApp, content(image.id), owner());
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.bytes, png);
    assert.equal(answer.headers.get('content-type'), 'image/png');
    assert.equal(answer.headers.get('content-length'), String(png.length));
    assert.equal(answer.headers.get('accept-ranges'), 'bytes');
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(answer.headers.get('cross-origin-resource-policy'), 'cross-origin', 'an app on another origin may embed it');
    assert.match(answer.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const etag = answer.headers.get('etag') ?? '';
    assert.match(etag, /^"[^"]+"$/, 'a strong ETag');
    const disposition = answer.headers.get('content-disposition') ?? '';
    assert.match(disposition, /^inline; filename="(?:[^"\\\r\n]|\\.)*"(; filename\*=UTF-8''[\w%.!~*'()-]+)?$/, disposition);
    assert.doesNotMatch(disposition, /\u202E|\r|\n/);
    // The same bytes, the same validator.
    assert.equal((await fetchBytes(testApp, content(image.id), owner())).headers.get('etag'), etag);
  });

  it('to anyone with the signed link, without a token', async () => {
    const original = await fetchBytes(testApp, image.url);
    assert.equal(original.status, 200);
    assert.deepEqual(original.bytes, png);
    assert.match(original.headers.get('cache-control') ?? '', /max-age=\d+/);
    const thumbnail = await fetchBytes(testApp, image.thumbnailUrl);
    assert.equal(thumbnail.status, 200);
    assert.equal(thumbnail.headers.get('content-type'), 'image/webp');
    assert.equal(thumbnail.bytes.subarray(8, 12).toString('latin1'), 'WEBP');
    assert.notEqual(thumbnail.headers.get('etag'), original.headers.get('etag'));
    const sound = await fetchBytes(testApp, audio.url);
    assert.equal(sound.status, 200);
    assert.equal(sound.headers.get('content-type'), 'audio/wav');
    assert.deepEqual(sound.bytes, wav);
  });

  it('serves every image variant as WebP to the owner', async () => {
    for (const variant of ['thumbnail', 'small', 'large']) {
      const answer = await fetchBytes(testApp, content(image.id, `?variant=${variant}`), owner());
      assert.equal(answer.status, 200, variant);
      assert.equal(answer.headers.get('content-type'), 'image/webp', variant);
      assert.equal(answer.bytes.subarray(0, 4).toString('latin1'), 'RIFF', variant);
      assert.match(answer.headers.get('content-disposition') ?? '', /^inline; filename="?[\w.-]*\.webp"?$/);
    }
    assertProblem(await problem(content(audio.id, '?variant=thumbnail'), owner()), 404, 'not_found');
    assertProblem(await problem(content(image.id, '?variant=huge'), owner()), 400, 'invalid_request');
  });

  it('answers If-None-Match with 304', async () => {
    const etag = (await fetchBytes(testApp, content(image.id), owner())).headers.get('etag') ?? '';
    const cached = await fetchBytes(testApp, content(image.id), owner({ 'if-none-match': etag }));
    assert.equal(cached.status, 304);
    assert.equal(cached.bytes.length, 0);
    assert.equal((await fetchBytes(testApp, content(image.id), owner({ 'if-none-match': `"other", ${etag}` }))).status, 304);
    const changed = await fetchBytes(testApp, content(image.id), owner({ 'if-none-match': '"something-else"' }));
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.bytes, png);
  });
});

describe('Range requests', () => {
  const ranged = (range: string, id = image.id) => fetchBytes(testApp, content(id), owner({ range }));

  it('serves one range with 206 and the exact Content-Range', async () => {
    const size = png.length;
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=-1', size - 1, size - 1],
      ['bytes=100-', 100, size - 1],
      ['bytes=10-19', 10, 19],
      ['bytes=0-', 0, size - 1],
      [`bytes=${size - 5}-${size + 100}`, size - 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const answer = await ranged(range);
      assert.equal(answer.status, 206, range);
      assert.equal(answer.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
      assert.equal(answer.headers.get('content-length'), String(end - start + 1), range);
      assert.equal(answer.headers.get('content-type'), 'image/png');
      assert.deepEqual(answer.bytes, png.subarray(start, end + 1), range);
    }
  });

  it('serves a suffix longer than the file as the whole file (RFC 9110 §14.1.1)', async () => {
    const answer = await ranged(`bytes=-${png.length + 10}`);
    assert.equal(answer.status, 206, answer.bytes.toString('utf8'));
    assert.equal(answer.headers.get('content-range'), `bytes 0-${png.length - 1}/${png.length}`);
    assert.deepEqual(answer.bytes, png);
  });

  it('serves ranges through signed links too (audio seeking)', async () => {
    const answer = await fetchBytes(testApp, audio.url, { headers: { range: 'bytes=44-143' } });
    assert.equal(answer.status, 206);
    assert.equal(answer.headers.get('content-range'), `bytes 44-143/${wav.length}`);
    assert.deepEqual(answer.bytes, wav.subarray(44, 144));
  });

  it('answers a range starting at or after the end with 416', async () => {
    for (const range of [`bytes=${png.length}-`, `bytes=${png.length + 1000}-${png.length + 2000}`]) {
      const answer = await problem(content(image.id), owner({ range }));
      assertProblem(answer, 416, 'range_not_satisfiable');
      assert.equal(answer.headers.get('content-range'), `bytes */${png.length}`, range);
    }
  });

  it('ignores multi-part and malformed ranges: 200 with everything', async () => {
    for (const range of ['bytes=0-1,100-200', 'bytes=abc', 'items=0-5', 'bytes=', 'bytes=--1', 'garbage']) {
      const answer = await ranged(range);
      assert.equal(answer.status, 200, range);
      assert.deepEqual(answer.bytes, png, range);
      assert.equal(answer.headers.get('content-range'), null, range);
    }
  });
});

describe('who may read the bytes', () => {
  it('hides media from everyone but the owner: 404, never 403', async () => {
    const asBob = { token: bob.accessToken };
    for (const path of [content(image.id), content(image.id, '?variant=thumbnail'), `/v1/media/${image.id}`]) {
      assertProblem(await problem(path, asBob), 404, 'not_found');
    }
    assertProblem(await api.delete(`/v1/media/${image.id}`, undefined, asBob), 404, 'not_found');
    assert.equal((await fetchBytes(testApp, content(image.id), owner())).status, 200, 'still there');
    assertProblem(await problem(content('01NOSUCHMEDIA0000000000000'), owner()), 404, 'not_found');
  });

  it('asks for a token when there is neither token nor signature', async () => {
    assertProblem(await problem(content(image.id)), 401, 'unauthorized');
    assertProblem(await problem(content(image.id), { token: 'garbage' }), 401, 'unauthorized');
    assertProblem(await problem(`/v1/media/${image.id}`), 401, 'unauthorized');
  });

  it('refuses an expired, tampered, half or misplaced link with 403', async () => {
    const { searchParams } = new URL(image.url, testApp.url);
    const sig = searchParams.get('sig') ?? '';
    const exp = Number(searchParams.get('exp'));
    const now = Math.floor(Date.now() / 1000);
    assert.ok(exp > now, 'the link is valid now');
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    const bad = [
      withQuery(image.url, { exp: String(now - 10) }),
      withQuery(image.url, { exp: String(exp + 3600) }),
      withQuery(image.url, { sig: flipped }),
      withQuery(image.url, { sig: sig.slice(0, -2) }),
      withQuery(image.url, { sig: '' }),
      withQuery(image.url, { exp: undefined }),
      withQuery(image.url, { sig: undefined }),
      withQuery(image.url, { variant: 'thumbnail' }), // the original's signature, another variant
      withQuery(image.thumbnailUrl, { variant: undefined }), // the thumbnail's signature, the original
      withQuery(image.thumbnailUrl, { variant: 'large' }),
      content(audio.id, `?exp=${exp}&sig=${encodeURIComponent(sig)}`), // another media item
    ];
    for (const link of bad) {
      const anonymous = await problem(link);
      assert.equal(anonymous.status, 403, `${link}: ${anonymous.status}`);
      assertProblem(anonymous, 403, 'forbidden');
      // A bearer token does not rescue a broken link.
      const withToken = await problem(link, owner());
      assert.equal(withToken.status, 403, `${link} with a token: ${withToken.status}`);
      assertProblem(withToken, 403, 'forbidden');
    }
    // A link the server itself signed, whose time is up.
    const signer = createLinkSigner(testApp.config.jwtSecret, testApp.config.media.signedUrlTtlSeconds);
    const old = signer.sign(`media/${image.id}/original/owner`, Date.now() - 3 * TTL * 1000);
    assert.ok(old.exp < now);
    assertProblem(await problem(content(image.id, `?exp=${old.exp}&sig=${old.sig}`)), 403, 'forbidden');
    // The same signer's link that is still valid works (so the one above failed for its age alone).
    const fresh = signer.sign(`media/${image.id}/original/owner`);
    assert.equal((await fetchBytes(testApp, content(image.id, `?exp=${fresh.exp}&sig=${fresh.sig}`))).status, 200);
    // Links to the original made before they were for the owner alone (issue 9) no longer work.
    const handedOut = signer.sign(`media/${image.id}/original`);
    assertProblem(await problem(content(image.id, `?exp=${handedOut.exp}&sig=${handedOut.sig}`)), 403, 'forbidden');
    // Nor does anyone else's.
    const expired = withQuery(image.url, { exp: String(now - 10) });
    assert.equal((await problem(expired, { token: bob.accessToken })).status, 403);
  });

  it('hands out links that expire after one to two SIGNED_URL_TTL windows', async () => {
    const read = async () => (await api.get(`/v1/media/${image.id}`, owner())).body;
    let [first, second] = [await read(), await read()];
    if (first.url !== second.url) [first, second] = [await read(), await read()]; // a window ended in between
    assert.equal(first.url, second.url, 'the same link within a window, so browsers can cache it');
    const now = Math.floor(Date.now() / 1000);
    for (const link of [first.url, first.thumbnailUrl]) {
      const exp = Number(new URL(link, testApp.url).searchParams.get('exp'));
      assert.ok(exp > now + TTL - 5 && exp <= now + 2 * TTL + 5, `${exp - now} s`);
    }
  });

  it('serves a link that is still valid to anyone, however it is asked', async () => {
    const answer = await fetchBytes(testApp, image.url, { token: bob.accessToken });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.bytes, png);
  });
});

describe('DELETE /v1/media/{id}', () => {
  it('removes the item and every file made from it', async () => {
    const video = await uploadAndSettle(api, alice.accessToken, await samples.ffmpegSample('mp4'));
    const photo = await uploadAndSettle(api, alice.accessToken, await samples.imageSample('jpeg'));
    assert.equal(photo.status, 'ready');
    assert.equal(video.status, 'ready');
    const prefix = `media/${alice.user.id}/${video.id}/`;
    assert.deepEqual(await blobKeys(testApp, prefix), ['clean', 'large', 'original', 'small', 'thumbnail'].map((file) => prefix + file));
    const poster = await fetchBytes(testApp, video.thumbnailUrl);
    assert.equal(poster.status, 200);
    assert.equal(poster.headers.get('content-type'), 'image/webp');

    assertProblem(await api.delete(`/v1/media/${video.id}`), 401, 'unauthorized');
    const removed = await api.delete(`/v1/media/${video.id}`, undefined, owner());
    assert.equal(removed.status, 204);
    assert.equal(removed.text, '');
    await eventually(async () => assert.deepEqual(await blobKeys(testApp, prefix), []));
    assertProblem(await api.get(`/v1/media/${video.id}`, owner()), 404, 'not_found');
    assertProblem(await problem(content(video.id), owner()), 404, 'not_found');
    assertProblem(await problem(video.url), 404, 'not_found');
    assertProblem(await problem(video.thumbnailUrl), 404, 'not_found');
    assertProblem(await api.delete(`/v1/media/${video.id}`, undefined, owner()), 404, 'not_found');
    // Others' files are untouched.
    assert.equal((await blobKeys(testApp, `media/${alice.user.id}/${photo.id}/`)).length, 5);
    assert.deepEqual((await fetchBytes(testApp, image.url)).bytes, png);
  });

  it('leaves no file behind when the item is deleted while it is processed', async () => {
    const webm = await samples.ffmpegSample('webm');
    const doomed = await api.call('POST', '/v1/media', { token: alice.accessToken, raw: webm });
    assert.equal(doomed.status, 202, doomed.text);
    assert.equal((await api.delete(`/v1/media/${doomed.body.id}`, undefined, owner())).status, 204);
    await jobsIdle(testApp); // its processing job has finished, whatever it wrote meanwhile
    assert.deepEqual(await blobKeys(testApp, `media/${alice.user.id}/${doomed.body.id}/`), []);
    assertProblem(await api.get(`/v1/media/${doomed.body.id}`, owner()), 404, 'not_found');
  });
});
