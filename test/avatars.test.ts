import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { startApp, type TestApp } from './helpers/app.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';
import { blobKeys } from './helpers/media.ts';
import { heicHead, htmlSample, imageSample, orientedJpegWithGps, pngBomb, svgSample, wavSample } from './helpers/media-samples.ts';

const putAvatar = (api: Client, token: string | undefined, bytes: Buffer, contentType = 'image/jpeg') =>
  api.call('PUT', '/v1/account/avatar', { token, raw: bytes, headers: { 'content-type': contentType } });

async function avatarBytes(testApp: TestApp, url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${testApp.url}${url}`, { headers });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe('profile images', () => {
  let testApp: TestApp;
  let api: Client;
  let alice: TestSession;

  before(async () => {
    testApp = await startApp({ AVATAR_MAX_BYTES: String(200 * 1024) });
    api = client(testApp);
    alice = await signUp(api);
  });
  after(() => testApp.close());

  test('setting one gives avatarUrl, served as square WebP in three sizes, upright and without EXIF', async () => {
    const answer = await putAvatar(api, alice.accessToken, await orientedJpegWithGps());
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.body.avatarUrl, new RegExp(`^/v1/users/${alice.user.handle}/avatar\\?v=\\w+$`));
    assert.equal((await api.get(`/v1/users/${alice.user.handle}`)).body.avatarUrl, answer.body.avatarUrl);

    for (const [size, side] of [['small', 128], ['medium', 400], ['large', 1024]] as const) {
      const { status, headers, bytes } = await avatarBytes(testApp, `${answer.body.avatarUrl}&size=${size}`);
      assert.equal(status, 200);
      assert.equal(headers.get('content-type'), 'image/webp');
      assert.match(headers.get('cache-control') ?? '', /immutable/);
      const meta = await sharp(bytes).metadata();
      // The 200×100 source is 100×200 once upright (EXIF orientation 6): cropped square, never enlarged.
      assert.equal(meta.width, Math.min(side, 100));
      assert.equal(meta.height, meta.width);
      assert.equal(meta.exif, undefined);
    }
    const medium = await avatarBytes(testApp, `/v1/users/${alice.user.handle}/avatar`);
    assert.equal(medium.status, 200, 'medium is the default size');
    assert.match(medium.headers.get('cache-control') ?? '', /max-age=60/, 'without ?v the answer may change soon');
    const again = await avatarBytes(testApp, `/v1/users/${alice.user.handle}/avatar`, { 'if-none-match': medium.headers.get('etag') ?? '' });
    assert.equal(again.status, 304);
  });

  test('replacing it removes the old bytes; deleting it removes all of them', async () => {
    const first = await putAvatar(api, alice.accessToken, await imageSample('png'), 'image/png');
    const firstKeys = await blobKeys(testApp, `avatars/${alice.user.id}/`);
    assert.equal(firstKeys.length, 3, 'three sizes, the upload itself not kept');
    const second = await putAvatar(api, alice.accessToken, await imageSample('webp'), 'image/webp');
    assert.notEqual(second.body.avatarUrl, first.body.avatarUrl);
    const secondKeys = await blobKeys(testApp, `avatars/${alice.user.id}/`);
    assert.equal(secondKeys.length, 3);
    assert.ok(secondKeys.every((key) => !firstKeys.includes(key)));

    assert.equal((await api.delete('/v1/account/avatar', undefined, { token: alice.accessToken })).status, 204);
    assert.deepEqual(await blobKeys(testApp, `avatars/${alice.user.id}/`), []);
    assert.equal((await api.get('/v1/account', { token: alice.accessToken })).body.avatarUrl, null);
    assertProblem(await api.get(`/v1/users/${alice.user.handle}/avatar`), 404, 'not_found');
    assert.equal((await api.delete('/v1/account/avatar', undefined, { token: alice.accessToken })).status, 204, 'idempotent');
  });

  test('refuses what is not an accepted image, and keeps the current one', async () => {
    const bob = await signUp(api);
    const set = await putAvatar(api, bob.accessToken, await imageSample('gif'), 'image/gif');
    const before = await blobKeys(testApp, `avatars/${bob.user.id}/`);
    const cases: [Buffer, string, number, string][] = [
      [htmlSample, 'image/jpeg', 415, 'unsupported_media_type'],
      [svgSample, 'image/svg+xml', 415, 'unsupported_media_type'],
      [wavSample(1), 'image/png', 415, 'unsupported_media_type'],
      [heicHead(), 'image/heic', 415, 'unsupported_media_type'],
      [pngBomb(), 'image/png', 415, 'unsupported_media_type'],
      [(await imageSample('jpeg')).subarray(0, 200), 'image/jpeg', 415, 'unsupported_media_type'],
      [Buffer.alloc(0), 'image/png', 400, 'invalid_request'],
      [Buffer.concat([await imageSample('png'), Buffer.alloc(300 * 1024)]), 'image/png', 413, 'payload_too_large'],
    ];
    for (const [bytes, type, status, code] of cases) assertProblem(await putAvatar(api, bob.accessToken, bytes, type), status, code);
    assertProblem(await putAvatar(api, undefined, await imageSample('png')), 401, 'unauthorized');
    assert.equal((await api.get('/v1/account', { token: bob.accessToken })).body.avatarUrl, set.body.avatarUrl);
    assert.deepEqual((await blobKeys(testApp, `avatars/${bob.user.id}/`)).sort(), before.sort());
  });

  test('unknown users and bad sizes are 4xx', async () => {
    assertProblem(await api.get('/v1/users/nobody-here/avatar'), 404, 'not_found');
    assertProblem(await api.get(`/v1/users/${alice.user.handle}/avatar?size=huge`), 400, 'invalid_request');
  });
});
