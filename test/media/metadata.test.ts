import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import sharp from 'sharp';
import { CLEAN_BACKLOG_JOB } from '../../src/modules/media/clean-copies.ts';
import { findFfmpeg, type FfmpegTools } from '../../src/modules/media/processing/ffmpeg.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { assertProblem, publish, signUp, type TestSession } from '../helpers/factories.ts';
import { client, type Client } from '../helpers/http.ts';
import { assertNoErrorLogs, fetchBytes, uploadAndSettle } from '../helpers/media.ts';
import { ffmpegSample } from '../helpers/media-samples.ts';
import { jobsIdle, runJob } from '../helpers/wait.ts';

/**
 * Issue 9, item 2: what anyone but the owner is served carries no EXIF, GPS, camera or creation
 * metadata, and not the owner's file name; the owner still gets the upload as it came.
 */

const run = promisify(execFile);

/** What the uploads carry that must not reach anyone else; each appears in the bytes of the originals. */
const SECRETS = ['Plaza Test Camera', 'PZ-SERIAL-7731', 'Plaza Secret Street', '+51.5012-000.1410', 'alice-private', 'IMG_4242'];

let testApp: TestApp;
let api: Client;
let alice: TestSession;
let bob: TestSession;
let tools: FfmpegTools;
const uploads: Record<'photo' | 'video' | 'audio', { bytes: Buffer; media: any; fileName: string }> = {} as never;
let post: any;

before(async () => {
  const found = await findFfmpeg({ PATH: process.env.PATH });
  assert.ok(found, 'ffmpeg and ffprobe come with `npm ci`');
  tools = found;
  testApp = await startApp({ SIGNED_URL_TTL: '600' });
  api = client(testApp);
  [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
  const samples = { photo: await cameraPhoto(), video: await phoneVideo(), audio: await taggedMp3() };
  const names = { photo: 'IMG_4242.jpg', video: 'alice-private.mp4', audio: 'alice-private-voice.mp3' };
  for (const kind of ['photo', 'video', 'audio'] as const) {
    const media = await uploadAndSettle(api, alice.accessToken, samples[kind], { fileName: names[kind] });
    assert.equal(media.status, 'ready', JSON.stringify(media));
    uploads[kind] = { bytes: samples[kind], media, fileName: names[kind] };
  }
  post = await publish(api, alice, { text: 'from the holidays', mediaIds: [uploads.photo.media.id, uploads.video.media.id, uploads.audio.media.id] });
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});

describe('what a post shows', () => {
  test('everyone, its author too, gets links to the copies without metadata, and no file names', async () => {
    for (const token of [undefined, bob.accessToken, alice.accessToken]) {
      const seen = await api.get(`/v1/posts/${post.id}`, { token });
      assert.equal(seen.status, 200, seen.text);
      assert.equal(seen.body.media.length, 3);
      for (const item of seen.body.media) {
        assert.equal(item.fileName, undefined, 'fileName is the owner’s');
        assert.equal(new URL(item.url, testApp.url).searchParams.get('variant'), 'clean', `${item.kind}: a link to the clean copy`);
      }
      for (const secret of SECRETS) assert.ok(!seen.text.includes(secret), `${secret} is not in the post`);
      const timeline = await api.get('/v1/timelines/public?limit=100', { token });
      assert.ok(!timeline.text.includes('IMG_4242') && !timeline.text.includes('alice-private'), 'nor on the main page');
    }
  });

  test('a link in a post cannot be turned into one to the original', async () => {
    const link = new URL(post.media[0].url, testApp.url);
    link.searchParams.delete('variant');
    assertProblem(await problem(`${link.pathname}${link.search}`), 403, 'forbidden');
    assertProblem(await problem(`${link.pathname}${link.search}`, { token: bob.accessToken }), 403, 'forbidden');
    const ownersLink = (await api.get(`/v1/media/${uploads.photo.media.id}`, { token: alice.accessToken })).body.url;
    assert.ok(!JSON.stringify(post).includes(new URL(ownersLink, testApp.url).searchParams.get('sig') ?? 'no'), 'the owner’s link is not in the post');
  });
});

describe('the bytes others get', () => {
  /** The same clean bytes, by the post's signed link (anonymous), by bearer token, and by asking for `clean`. */
  async function othersGet(kind: keyof typeof uploads): Promise<Buffer> {
    const { media } = uploads[kind];
    const postLink = post.media.find((item: { id: string }) => item.id === media.id).url;
    const answers = [
      await fetchBytes(testApp, postLink),
      await fetchBytes(testApp, `/v1/media/${media.id}/content`, { token: bob.accessToken }),
      await fetchBytes(testApp, `/v1/media/${media.id}/content?variant=clean`, { token: bob.accessToken }),
    ];
    const extension = { photo: 'jpg', video: 'mp4', audio: 'mp3' }[kind];
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.bytes.toString('utf8'));
      assert.equal(answer.headers.get('content-type'), media.contentType);
      const disposition = answer.headers.get('content-disposition') ?? '';
      assert.match(disposition, new RegExp(`^inline; filename="?${media.id}\\.${extension}"?$`), `${disposition}: a neutral name, the sniffed type’s extension`);
      assert.deepEqual(answer.bytes, answers[0]?.bytes, 'the same copy every way');
    }
    const bytes = answers[0]?.bytes ?? Buffer.alloc(0);
    assert.notDeepEqual(bytes, uploads[kind].bytes, 'not the upload as it came');
    for (const secret of SECRETS) assert.ok(!hasText(bytes, secret), `${kind}: ${secret} is gone`);
    return bytes;
  }

  test('a photo: upright, without EXIF, GPS, XMP, IPTC or camera tags, still a JPEG', async () => {
    const before = await sharp(uploads.photo.bytes).metadata();
    assert.equal(before.orientation, 6);
    assert.ok(before.exif !== undefined && before.xmp !== undefined, 'the upload carries EXIF and XMP');
    for (const secret of ['Plaza Test Camera', 'PZ-SERIAL-7731', 'Plaza Secret Street']) assert.ok(hasText(uploads.photo.bytes, secret), secret);

    const clean = await sharp(await othersGet('photo')).metadata();
    assert.equal(clean.format, 'jpeg');
    assert.deepEqual([clean.width, clean.height], [100, 200], 'turned upright: the stored 200×100 is shown 100×200');
    assert.equal(clean.orientation, undefined);
    assert.equal(clean.exif, undefined);
    assert.equal(clean.xmp, undefined);
    assert.equal(clean.iptc, undefined);
  });

  test('a video: no location, creation time or Apple tags, the streams copied as they were', async () => {
    const before = await probe(uploads.video.bytes);
    assert.match(JSON.stringify(before.format.tags), /location|creation_time|com\.apple/, 'the upload carries them');
    for (const secret of ['+51.5012-000.1410', 'Plaza Test Camera', 'Plaza Secret Street']) assert.ok(hasText(uploads.video.bytes, secret), secret);
    const clean = await probe(await othersGet('video'));
    const tags = { ...clean.format.tags, ...Object.assign({}, ...clean.streams.map((stream: any) => stream.tags)) };
    for (const name of Object.keys(tags)) {
      assert.doesNotMatch(name, /location|creation_time|com\.apple|title|comment|make|model|date/i, `${name} is gone`);
    }
    assert.deepEqual(clean.streams.map((stream: any) => [stream.codec_type, stream.codec_name]), before.streams.map((stream: any) => [stream.codec_type, stream.codec_name]));
    assert.ok(Math.abs(Number(clean.format.duration) - Number(before.format.duration)) < 0.1, 'as long as it was');
    const rotation = (streams: any[]) => streams.find((stream) => stream.codec_type === 'video')?.side_data_list?.[0]?.rotation;
    assert.equal(Math.abs(rotation(before.streams)), 90, 'the sample is marked to be shown turned');
    assert.equal(rotation(clean.streams), rotation(before.streams), 'a phone video stays the right way up');
  });

  test('audio: no ID3 tags and no cover picture', async () => {
    const before = await probe(uploads.audio.bytes);
    assert.ok(before.streams.some((stream: any) => stream.codec_type === 'video'), 'the upload has cover art');
    for (const secret of ['+51.5012-000.1410', 'Plaza Test Camera', 'Plaza Secret Street']) assert.ok(hasText(uploads.audio.bytes, secret), secret);
    const clean = await probe(await othersGet('audio'));
    assert.deepEqual(clean.streams.map((stream: any) => stream.codec_type), ['audio']);
    for (const name of Object.keys(clean.format.tags ?? {})) assert.doesNotMatch(name, /title|artist|comment|date/i, `${name} is gone`);
  });
});

describe('the owner', () => {
  test('still gets each upload as it came, byte for byte, under their own file name', async () => {
    for (const { bytes, media, fileName } of Object.values(uploads)) {
      const own = await api.get(`/v1/media/${media.id}`, { token: alice.accessToken });
      assert.equal(own.body.fileName, fileName);
      for (const answer of [
        await fetchBytes(testApp, own.body.url),
        await fetchBytes(testApp, `/v1/media/${media.id}/content`, { token: alice.accessToken }),
      ]) {
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.bytes, bytes, fileName);
        assert.match(answer.headers.get('content-disposition') ?? '', new RegExp(fileName.replace('.', '\\.')));
      }
      const clean = await fetchBytes(testApp, `/v1/media/${media.id}/content?variant=clean`, { token: alice.accessToken });
      assert.equal(clean.status, 200, 'and may see what others get');
    }
  });
});

describe('an item without its clean copy', () => {
  test('(still processing, or stored before clean copies existed) is its owner’s alone until the copy is made', async () => {
    const bytes = await cameraPhoto();
    const media = await uploadAndSettle(api, alice.accessToken, bytes, { fileName: 'IMG_4242.jpg' });
    const shared = await publish(api, alice, { text: 'an older photo', mediaIds: [media.id] });
    // As items stored before this release are: no clean copy, no record of one.
    await testApp.deps.database.db.updateTable('media').set({ variants: sql`variants - 'clean'` as never }).where('id', '=', media.id).execute();
    await testApp.deps.blobs.delete(`media/${alice.user.id}/${media.id}/clean`);

    const seen = (await api.get(`/v1/posts/${shared.id}`)).body.media[0];
    assert.equal(seen.url, undefined, 'no link for others');
    assert.ok(seen.thumbnailUrl, 'the sizes are there already');
    assertProblem(await problem(`/v1/media/${media.id}/content`, { token: bob.accessToken }), 404, 'not_found');
    assertProblem(await problem(shared.media[0].url), 404, 'not_found');
    const own = await fetchBytes(testApp, `/v1/media/${media.id}/content`, { token: alice.accessToken });
    assert.deepEqual(own.bytes, bytes, 'the owner reads it all along');

    // At start-up the backlog job finds such items and makes their copies.
    await runJob(testApp, CLEAN_BACKLOG_JOB);
    await jobsIdle(testApp);
    const later = (await api.get(`/v1/posts/${shared.id}`)).body.media[0];
    const clean = await fetchBytes(testApp, later.url);
    assert.equal(clean.status, 200);
    const meta = await sharp(clean.bytes).metadata();
    assert.deepEqual([meta.exif, meta.xmp, meta.width, meta.height], [undefined, undefined, 100, 200]);
  });
});

/** A 200×100 JPEG stored sideways (EXIF orientation 6) with camera, serial number, date, GPS and XMP. */
function cameraPhoto(): Promise<Buffer> {
  const pixels = Buffer.alloc(200 * 100 * 3);
  for (let i = 0; i < 200 * 100; i++) pixels.set([(i % 200) % 256, (i / 200) * 2, 128], i * 3);
  const xmp =
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    '<rdf:Description xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" Iptc4xmpCore:Location="Plaza Secret Street"/>' +
    '</rdf:RDF></x:xmpmeta>';
  return sharp(pixels, { raw: { width: 200, height: 100, channels: 3 } })
    .withExif({
      IFD0: { Make: 'Plaza Test Camera', Model: 'PZ-1', Software: 'Plaza Test Firmware' },
      IFD2: { BodySerialNumber: 'PZ-SERIAL-7731', DateTimeOriginal: '2021:06:01 12:34:56' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 4/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 8/1 27/1' },
    })
    .withXmp(xmp)
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toBuffer();
}

/** The MP4 sample as a phone writes it: location (also Apple's key), creation time, make and model, turned a quarter. */
async function phoneVideo(): Promise<Buffer> {
  return remux(await ffmpegSample('mp4'), 'mp4', [
    '-metadata', 'location=+51.5012-000.1410/',
    '-metadata', 'com.apple.quicktime.location.ISO6709=+51.5012-000.1410/',
    '-metadata', 'com.apple.quicktime.make=Plaza Test Camera',
    '-metadata', 'creation_time=2021-06-01T12:34:56Z',
    '-metadata', 'title=Plaza Secret Street',
    '-metadata:s:v:0', 'creation_time=2021-06-01T12:34:56Z',
    '-metadata:s:v:0', 'rotate=90',
    '-movflags', 'use_metadata_tags',
  ]);
}

/** An MP3 with ID3 tags and a cover picture. */
async function taggedMp3(): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const output = join(dir, 'out.mp3');
    await run(tools.ffmpeg, [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-f', 'lavfi', '-i', 'testsrc=duration=1:size=32x32:rate=1',
      '-map', '0', '-map', '1', '-c:a', 'libmp3lame', '-c:v', 'mjpeg', '-frames:v', '1', '-disposition:v', 'attached_pic',
      '-metadata', 'title=Plaza Secret Street', '-metadata', 'artist=Plaza Test Camera', '-metadata', 'comment=+51.5012-000.1410',
      output,
    ]);
    return readFile(output);
  });
}

async function remux(bytes: Buffer, extension: string, options: string[]): Promise<Buffer> {
  return inTempDir(async (dir) => {
    await writeFile(join(dir, `in.${extension}`), bytes);
    const output = join(dir, `out.${extension}`);
    await run(tools.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', join(dir, `in.${extension}`), '-c', 'copy', ...options, output]);
    return readFile(output);
  });
}

/** ffprobe's view of some bytes: format and streams, with their tags and side data. */
async function probe(bytes: Buffer): Promise<any> {
  return inTempDir(async (dir) => {
    await writeFile(join(dir, 'probed'), bytes);
    const { stdout } = await run(tools.ffprobe, ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', join(dir, 'probed')]);
    return JSON.parse(stdout);
  });
}

async function inTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'plaza-metadata-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const hasText = (bytes: Buffer, text: string) => bytes.includes(Buffer.from(text, 'latin1'));

async function problem(path: string, options: { token?: string } = {}) {
  const answer = await fetchBytes(testApp, path, options);
  return { status: answer.status, headers: answer.headers, body: answer.json ?? {}, text: answer.bytes.toString('utf8') };
}
