import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { appPerFile, startApp, type TestApp } from './helpers/app.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';
import { blobKeys } from './helpers/media.ts';
import { blankPng, heicHead, htmlSample, imageSample, orientedJpegWithGps, pngBomb, svgSample, wavSample } from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';

const putAvatar = (api: Client, token: string | undefined, bytes: Buffer, contentType = 'image/jpeg') =>
  api.call('PUT', '/v1/account/avatar', { token, raw: bytes, headers: { 'content-type': contentType } });

async function avatarBytes(testApp: TestApp, url: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await fetch(`${testApp.url}${url}`, { headers, method });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The image id at the end of an avatarUrl. */
const imageIdOf = (avatarUrl: string) => /^\/v1\/avatars\/(\w+)$/.exec(avatarUrl)?.[1] ?? assert.fail(`not an image link: ${avatarUrl}`);
/** The link avatarUrl was before it was keyed by the image id: still in caches and stored pages. */
const handleLinkOf = (handle: string, avatarUrl: string) => `/v1/users/${handle}/avatar?v=${imageIdOf(avatarUrl)}`;

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
    assert.match(answer.body.avatarUrl, /^\/v1\/avatars\/\w{26}$/);
    assert.equal((await api.get(`/v1/users/${alice.user.handle}`)).body.avatarUrl, answer.body.avatarUrl);

    for (const [size, side] of [['small', 128], ['medium', 400], ['large', 1024]] as const) {
      const { status, headers, bytes } = await avatarBytes(testApp, `${answer.body.avatarUrl}?size=${size}`);
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

  test('names the file by the handle as stored, however the path spells it', async () => {
    const kate = await signUp(api, { handle: 'kate' });
    assert.equal((await putAvatar(api, kate.accessToken, await imageSample('png'), 'image/png')).status, 200);
    // U+212A KELVIN SIGN lower-cases to "k": the path finds kate, and the name must not echo it.
    const answer = await avatarBytes(testApp, '/v1/users/%E2%84%AAATE/avatar');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-disposition'), 'inline; filename=kate-medium.webp');
  });

  test('avatarUrl survives a handle change, and links handed out before it keep working', async () => {
    const erin = await signUp(api);
    const set = await putAvatar(api, erin.accessToken, await imageSample('png'), 'image/png');
    const link: string = set.body.avatarUrl;
    const oldHandle = erin.user.handle;
    const legacy = handleLinkOf(oldHandle, link);
    const original = await avatarBytes(testApp, link);
    assert.equal(original.status, 200);

    const newHandle = `renamed_${randomBytes(4).toString('hex')}`;
    const renamed = await api.patch('/v1/account', { handle: newHandle }, { token: erin.accessToken });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.avatarUrl, link, 'the link names no handle');
    assert.equal((await api.get(`/v1/users/${newHandle}`)).body.avatarUrl, link);
    for (const url of [link, legacy, `/v1/users/${newHandle}/avatar`]) {
      const answer = await avatarBytes(testApp, url);
      assert.equal(answer.status, 200, url);
      assert.deepEqual(answer.bytes, original.bytes, url);
    }
    assert.match((await avatarBytes(testApp, legacy)).headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await avatarBytes(testApp, legacy)).headers.get('content-disposition'), 'inline; filename=avatar-medium.webp', 'an old link does not tell the new handle');
    assertProblem(await api.get(`/v1/users/${oldHandle}/avatar`), 404, 'not_found');

    // Someone else takes the old handle: its bare link never shows Erin's picture, her image's link still does.
    const frank = await signUp(api, { handle: oldHandle });
    assertProblem(await api.get(`/v1/users/${oldHandle}/avatar`), 404, 'not_found');
    assert.deepEqual((await avatarBytes(testApp, legacy)).bytes, original.bytes);
    const franks = await putAvatar(api, frank.accessToken, await imageSample('webp'), 'image/webp');
    const bare = await avatarBytes(testApp, `/v1/users/${oldHandle}/avatar`);
    assert.equal(bare.status, 200);
    assert.equal(bare.headers.get('etag'), `"${imageIdOf(franks.body.avatarUrl)}.medium"`);
    assert.notDeepEqual(bare.bytes, original.bytes);
    assert.deepEqual((await avatarBytes(testApp, legacy)).bytes, original.bytes);

    // Once Erin takes hers down, no link shows it, nor puts Frank's in its place.
    assert.equal((await api.delete('/v1/account/avatar', undefined, { token: erin.accessToken })).status, 204);
    for (const url of [link, legacy, `/v1/users/${newHandle}/avatar`]) assertProblem(await api.get(url), 404, 'not_found');
  });

  test('a replaced image, and every image of a deleted account, is 404 on every link and size', async () => {
    const gina = await signUp(api);
    const first = (await putAvatar(api, gina.accessToken, await imageSample('png'), 'image/png')).body.avatarUrl as string;
    const second = (await putAvatar(api, gina.accessToken, await imageSample('webp'), 'image/webp')).body.avatarUrl as string;
    assert.notEqual(first, second);
    const gone = async (links: string[]) => {
      for (const url of links) {
        for (const size of ['small', 'medium', 'large']) {
          const sized = `${url}${url.includes('?') ? '&' : '?'}size=${size}`;
          assertProblem(await api.get(sized), 404, 'not_found');
          assert.equal((await avatarBytes(testApp, sized, {}, 'HEAD')).status, 404, `HEAD ${sized}`);
        }
      }
    };
    await gone([first, handleLinkOf(gina.user.handle, first)]);
    for (const url of [second, handleLinkOf(gina.user.handle, second)]) assert.equal((await avatarBytes(testApp, url)).status, 200, url);

    assert.equal((await api.delete('/v1/account', { password: gina.password }, { token: gina.accessToken })).status, 204);
    await gone([second, handleLinkOf(gina.user.handle, second), `/v1/users/${gina.user.handle}/avatar`]);
  });

  test('the image link: each size, cached for good, with ETag, 304, HEAD and ranges', async () => {
    const hana = await signUp(api);
    const link = (await putAvatar(api, hana.accessToken, blankPng(600, 600), 'image/png')).body.avatarUrl as string;
    const id = imageIdOf(link);
    for (const [size, side] of [['small', 128], ['medium', 400], ['large', 600]] as const) {
      const answer = await avatarBytes(testApp, `${link}?size=${size}`);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(answer.headers.get('etag'), `"${id}.${size}"`);
      assert.equal(answer.headers.get('content-type'), 'image/webp');
      assert.equal(answer.headers.get('content-disposition'), `inline; filename=avatar-${size}.webp`);
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
      assert.equal((await sharp(answer.bytes).metadata()).width, side, 'never enlarged');

      const revalidated = await avatarBytes(testApp, `${link}?size=${size}`, { 'if-none-match': `"${id}.${size}"` });
      assert.equal(revalidated.status, 304);
      const head = await avatarBytes(testApp, `${link}?size=${size}`, {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(answer.bytes.length));
      assert.equal(head.bytes.length, 0);
      const part = await avatarBytes(testApp, `${link}?size=${size}`, { range: 'bytes=0-9' });
      assert.equal(part.status, 206);
      assert.deepEqual(part.bytes, answer.bytes.subarray(0, 10));
    }
    const medium = await avatarBytes(testApp, link);
    assert.equal(medium.headers.get('etag'), `"${id}.medium"`, 'medium is the default size');
    const current = await avatarBytes(testApp, `/v1/users/${hana.user.handle}/avatar`);
    assert.equal(current.headers.get('cache-control'), 'public, max-age=60', 'the handle may show another image soon');
    assert.equal(current.headers.get('etag'), medium.headers.get('etag'), 'one validator for the same bytes');
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
      [pngBomb(), 'image/png', 413, 'payload_too_large'], // 50,000 × 50,000 pixels, told from its header
      [(await imageSample('jpeg')).subarray(0, 200), 'image/jpeg', 415, 'unsupported_media_type'],
      [Buffer.alloc(0), 'image/png', 400, 'invalid_request'],
      [Buffer.concat([await imageSample('png'), Buffer.alloc(300 * 1024)]), 'image/png', 413, 'payload_too_large'],
    ];
    for (const [bytes, type, status, code] of cases) assertProblem(await putAvatar(api, bob.accessToken, bytes, type), status, code);
    assertProblem(await putAvatar(api, undefined, await imageSample('png')), 401, 'unauthorized');
    assert.equal((await api.get('/v1/account', { token: bob.accessToken })).body.avatarUrl, set.body.avatarUrl);
    assert.deepEqual((await blobKeys(testApp, `avatars/${bob.user.id}/`)).sort(), before.sort());
  });

  test('refuses an image of more than 50 megapixels with 413, from its header', async () => {
    const carol = await signUp(api);
    // 100 megapixels in 12 KiB: well under AVATAR_MAX_BYTES, and seconds of CPU to cut.
    const answer = await putAvatar(api, carol.accessToken, blankPng(10_000, 10_000), 'image/png');
    assertProblem(answer, 413, 'payload_too_large');
    assert.match(answer.body.detail, /more than 50000000 pixels/);
    assert.deepEqual(await blobKeys(testApp, `avatars/${carol.user.id}/`), [], 'nothing kept');
    assert.equal((await api.get('/v1/account', { token: carol.accessToken })).body.avatarUrl, null);
    const fits = await putAvatar(api, carol.accessToken, blankPng(5_000, 5_000), 'image/png');
    assert.equal(fits.status, 200, fits.text);
  });

  test('cuts at most two at once: the next waits its turn, and past a full queue is refused with 503', async () => {
    const slots = testApp.deps.squareImageSlots;
    const dave = await signUp(api);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = [slots.run(() => gate), slots.run(() => gate)];
    assert.equal(slots.running, slots.concurrency, 'both slots taken');

    const waiting = putAvatar(api, dave.accessToken, await imageSample('png'), 'image/png');
    await eventually(async () => assert.equal(slots.waiting, 1, 'the upload is stored and waits for a slot'));
    const queued = Array.from({ length: slots.queueLimit - 1 }, () => slots.run(async () => {}));
    assert.equal(slots.waiting, slots.queueLimit);
    const refused = await putAvatar(api, dave.accessToken, await imageSample('png'), 'image/png');
    assertProblem(refused, 503, 'unavailable');
    assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After');

    release();
    await Promise.all([...held, ...queued]);
    const answered = await waiting;
    assert.equal(answered.status, 200, answered.text);
    assert.equal(answered.body.avatarUrl, (await api.get('/v1/account', { token: dave.accessToken })).body.avatarUrl);
    assert.deepEqual([slots.running, slots.waiting], [0, 0], 'every slot given back');
    assert.equal((await blobKeys(testApp, `avatars/${dave.user.id}/`)).length, 3, 'the refused upload left nothing');
  });

  test('unknown users and images, bad sizes and unknown parameters are 4xx', async () => {
    assertProblem(await api.get('/v1/users/nobody-here/avatar'), 404, 'not_found');
    assertProblem(await api.get(`/v1/users/${alice.user.handle}/avatar?size=huge`), 400, 'invalid_request');
    assertProblem(await api.get('/v1/users/nobody-here/avatar?v=01NOSUCHIMAGE0000000000000'), 404, 'not_found');
    assertProblem(await api.get('/v1/avatars/01NOSUCHIMAGE0000000000000'), 404, 'not_found');
    assertProblem(await api.get('/v1/avatars/01NOSUCHIMAGE0000000000000?size=huge'), 400, 'invalid_request');
    assertProblem(await api.get('/v1/avatars/01NOSUCHIMAGE0000000000000?v=1'), 400, 'invalid_request');
    assertProblem(await api.get(`/v1/avatars/${'x'.repeat(65)}`), 400, 'invalid_request');
  });
});

describe('profile images with S3_REDIRECT_DOWNLOADS', () => {
  const redirecting = appPerFile({ S3_REDIRECT_DOWNLOADS: 'true' });

  test('both links send the client to the bucket while the image is current, and nowhere once it is gone', async () => {
    const { testApp, api } = redirecting;
    const ines = await signUp(api);
    const link = (await putAvatar(api, ines.accessToken, await imageSample('png'), 'image/png')).body.avatarUrl as string;
    for (const url of [`${link}?size=small`, `${handleLinkOf(ines.user.handle, link)}&size=small`]) {
      const answer = await fetch(`${testApp.url}${url}`, { redirect: 'manual' });
      if (testApp.config.s3 === undefined) {
        assert.equal(answer.status, 200, 'the directory store has no links of its own');
      } else {
        assert.equal(answer.status, 302, url);
        assert.equal(answer.headers.get('cache-control'), 'private, no-store', 'the signed link expires: never cached in its place');
        const direct = await fetch(answer.headers.get('location') ?? '');
        assert.equal(direct.status, 200);
        assert.equal(direct.headers.get('content-type'), 'image/webp');
        assert.equal((await sharp(Buffer.from(await direct.arrayBuffer())).metadata()).width, 48, 'the 64×48 sample, cropped square');
      }
    }
    assert.equal((await api.delete('/v1/account/avatar', undefined, { token: ines.accessToken })).status, 204);
    for (const url of [link, handleLinkOf(ines.user.handle, link)]) {
      assert.equal((await fetch(`${testApp.url}${url}`, { redirect: 'manual' })).status, 404, url);
    }
  });
});
