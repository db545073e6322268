import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { client, type Client } from '../helpers/http.ts';
import { assertProblem, signUp, type TestSession } from '../helpers/factories.ts';
import {
  assertNoErrorLogs,
  assertRefusedLeavesNothing,
  blobKeys,
  mediaRowsOf,
  uploadAndSettle,
  uploadMultipart,
  uploadRaw,
  waitForMedia,
} from '../helpers/media.ts';
import * as samples from '../helpers/media-samples.ts';

let testApp: TestApp;
let api: Client;
let alice: TestSession;

before(async () => {
  testApp = await startApp();
  api = client(testApp);
  alice = await signUp(api);
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});

const KEY = /^media\/([^/]+)\/([^/]+)\/(original|clean|thumbnail|small|large)$/;

function assertAbout(actual: number | undefined, expected: number, tolerance = 0.1) {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= expected * tolerance, `${actual} is not about ${expected}`);
}


describe('POST /v1/media accepts every allowed type, sniffed from its bytes', () => {
  type Case = [string, () => Promise<Buffer> | Buffer, 'image' | 'audio' | 'video', string];
  const cases: Case[] = [
    ['JPEG', () => samples.imageSample('jpeg'), 'image', 'image/jpeg'],
    ['PNG', () => samples.imageSample('png'), 'image', 'image/png'],
    ['WebP', () => samples.imageSample('webp'), 'image', 'image/webp'],
    ['GIF', () => samples.imageSample('gif'), 'image', 'image/gif'],
    ['AVIF', () => samples.imageSample('avif'), 'image', 'image/avif'],
    ['MP3', () => samples.ffmpegSample('mp3'), 'audio', 'audio/mpeg'],
    ['AAC', () => samples.ffmpegSample('aac'), 'audio', 'audio/aac'],
    ['M4A', () => samples.ffmpegSample('m4a'), 'audio', 'audio/mp4'],
    ['Ogg Opus', () => samples.ffmpegSample('opus'), 'audio', 'audio/ogg'],
    ['WebM audio', () => samples.ffmpegSample('webmAudio'), 'audio', 'audio/webm'],
    ['WAV', () => samples.wavSample(), 'audio', 'audio/wav'],
    ['FLAC', () => samples.ffmpegSample('flac'), 'audio', 'audio/flac'],
    ['MP4', () => samples.ffmpegSample('mp4'), 'video', 'video/mp4'],
    ['WebM video', () => samples.ffmpegSample('webm'), 'video', 'video/webm'],
    ['QuickTime', () => samples.ffmpegSample('mov'), 'video', 'video/quicktime'],
  ];

  it('answers 202 processing, then ends ready with what the kind needs', async () => {
    const uploader = await signUp(api);
    // Upload everything first, then wait for all: processing runs in the background.
    const uploaded = await Promise.all(
      cases.map(async ([name, make, kind, contentType]) => {
        const bytes = await make();
        // The declared type is a lie on purpose: it must not matter.
        const answer = await uploadRaw(api, uploader.accessToken, bytes, { contentType: 'text/plain', fileName: `sample ${name}` });
        assert.equal(answer.status, 202, `${name}: ${answer.text}`);
        assert.equal(answer.body.status, 'processing');
        assert.equal(answer.body.kind, kind, name);
        assert.equal(answer.body.contentType, contentType, name);
        assert.equal(answer.body.size, bytes.length, name);
        assert.equal(answer.body.fileName, `sample ${name}`);
        assert.ok(!Number.isNaN(Date.parse(answer.body.createdAt)));
        return { name, kind, id: answer.body.id as string };
      }),
    );
    for (const { name, kind, id } of uploaded) {
      const media = await waitForMedia(api, uploader.accessToken, id);
      assert.equal(media.status, 'ready', `${name}: ${JSON.stringify(media)}`);
      assert.equal(typeof media.url, 'string', name);
      if (kind === 'image') {
        assert.equal(media.width, 64, name);
        assert.equal(media.height, 48, name);
        assert.equal(typeof media.blurhash, 'string', name);
        assert.equal(typeof media.thumbnailUrl, 'string', name);
        assert.equal(media.durationMs, undefined, name);
      } else if (kind === 'audio') {
        assertAbout(media.durationMs, 1000);
        assert.equal(media.waveform?.length, 100, name);
        assert.ok(media.waveform.every((peak: number) => peak >= 0 && peak <= 1), name);
        assert.ok(Math.max(...media.waveform) > 0.1, `${name}: a sine is not silence`);
        assert.equal(media.thumbnailUrl, undefined, name);
        assert.equal(media.width, undefined, name);
      } else {
        assertAbout(media.durationMs, 1000);
        assert.equal(media.width, 320, name);
        assert.equal(media.height, 240, name);
        assert.equal(typeof media.blurhash, 'string', name);
        assert.equal(typeof media.thumbnailUrl, 'string', name);
      }
    }
    const keys = await blobKeys(testApp, `media/${uploader.user.id}/`);
    for (const { id, kind } of uploaded) {
      const files = keys.filter((key) => key.startsWith(`media/${uploader.user.id}/${id}/`)).map((key) => key.split('/')[3]);
      // Audio gets its clean copy (tags removed) and nothing else; images and video their sizes too.
      assert.deepEqual(files.sort(), kind === 'audio' ? ['clean', 'original'] : ['clean', 'large', 'original', 'small', 'thumbnail'], `${kind} ${id}`);
    }
  });

  it('processes a long audio-only MP4 with its track list at the end (Android recorders) as audio', async () => {
    const android = await samples.ffmpegSample('androidM4a');
    const user = await signUp(api);
    const media = await uploadAndSettle(api, user.accessToken, android, { fileName: 'voice.m4a' });
    assert.equal(media.status, 'ready', JSON.stringify(media));
    assert.equal(media.kind, 'audio');
    assertAbout(media.durationMs, 60_000);
    assert.equal(media.waveform?.length, 100);
  });

  it('measures a MediaRecorder WebM, whose header has no duration', async () => {
    const user = await signUp(api);
    const [video, audio] = await Promise.all([
      uploadAndSettle(api, user.accessToken, await samples.ffmpegSample('liveWebm')),
      uploadAndSettle(api, user.accessToken, await samples.ffmpegSample('liveWebmAudio')),
    ]);
    assert.equal(audio.status, 'ready', JSON.stringify(audio));
    assert.equal(audio.contentType, 'audio/webm');
    assertAbout(audio.durationMs, 1000);
    assert.equal(video.status, 'ready', JSON.stringify(video));
    assert.equal(video.contentType, 'video/webm');
    assert.equal(video.width, 320);
    assert.equal(typeof video.thumbnailUrl, 'string');
    assertAbout(video.durationMs, 1000);
  });

  it('takes a multipart form with the bytes in the field "file"', async () => {
    const png = await samples.imageSample('png');
    const answer = await uploadMultipart(api, alice.accessToken, png, { fileName: 'from form.png', contentType: 'image/jpeg' });
    assert.equal(answer.status, 202, answer.text);
    assert.equal(answer.body.contentType, 'image/png');
    assert.equal(answer.body.fileName, 'from form.png');
    assert.equal(answer.body.size, png.length);
    assert.equal((await waitForMedia(api, alice.accessToken, answer.body.id)).status, 'ready');
  });

  it('reads a JSON content type as bytes too', async () => {
    const jpeg = await samples.imageSample('jpeg');
    const answer = await uploadRaw(api, alice.accessToken, jpeg, { contentType: 'application/json' });
    assert.equal(answer.status, 202, answer.text);
    assert.equal(answer.body.contentType, 'image/jpeg');
    assert.equal(answer.body.fileName, 'upload.jpg', 'a server-made name without fileName');
  });
});

describe('POST /v1/media refuses bad uploads and keeps nothing of them', () => {
  it('refuses what is not an allowed type, whatever it claims, with 415', async () => {
    const refused: [string, Buffer, string, string][] = [
      ['HTML as JPEG', samples.htmlSample, 'image/jpeg', 'photo.jpg'],
      ['ZIP', samples.zipSample(), 'application/zip', 'archive.zip'],
      ['ELF named .m4a', samples.elfSample(), 'audio/mp4', 'voice.m4a'],
      ['SVG', samples.svgSample, 'image/svg+xml', 'logo.svg'],
      ['PDF as PNG', samples.pdfSample, 'image/png', 'scan.png'],
      ['plain text', Buffer.from('hello there\n'), 'audio/mpeg', 'song.mp3'],
    ];
    await assertRefusedLeavesNothing(testApp, api, async (user) => {
      for (const [name, bytes, contentType, fileName] of refused) {
        const raw = await uploadRaw(api, user.accessToken, bytes, { contentType, fileName });
        assert.equal(raw.status, 415, `${name}: ${raw.text}`);
        assertProblem(raw, 415, 'unsupported_media_type');
        const form = await uploadMultipart(api, user.accessToken, bytes, { contentType, fileName });
        assert.equal(form.status, 415, `${name} in a form: ${form.text}`);
        assertProblem(form, 415, 'unsupported_media_type');
      }
    });
  });

  it('refuses an empty body, a malformed form and one without the field "file" with 400', async () => {
    const png = await samples.imageSample('png');
    await assertRefusedLeavesNothing(testApp, api, async (user) => {
      assertProblem(await uploadRaw(api, user.accessToken, Buffer.alloc(0)), 400, 'invalid_request');
      assertProblem(await uploadRaw(api, user.accessToken, Buffer.alloc(0), { contentType: 'image/png' }), 400, 'invalid_request');
      const wrongField = await uploadMultipart(api, user.accessToken, png, { field: 'photo', fileName: 'a.png' });
      assertProblem(wrongField, 400, 'invalid_request');
      assertProblem(await uploadMultipart(api, user.accessToken, Buffer.alloc(0), { fileName: 'a.png' }), 400, 'invalid_request');
      const form = (raw: Buffer, contentType: string) =>
        api.call('POST', '/v1/media', { token: user.accessToken, raw, headers: { 'content-type': contentType } });
      const unterminated = Buffer.concat([
        Buffer.from('--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'),
        png,
      ]);
      assertProblem(await form(unterminated, 'multipart/form-data; boundary=b0undary'), 400, 'invalid_request');
      assertProblem(await form(png, 'multipart/form-data'), 400, 'invalid_request');
    });
  });

  it('refuses uploads without a valid token with 401', async () => {
    const png = await samples.imageSample('png');
    const before = await blobKeys(testApp);
    assertProblem(await uploadRaw(api, undefined, png), 401, 'unauthorized');
    assertProblem(await uploadRaw(api, 'not-a-token', png), 401, 'unauthorized');
    assertProblem(await uploadMultipart(api, undefined, png), 401, 'unauthorized');
    assert.deepEqual(await blobKeys(testApp), before);
  });
});

describe('processing ends failed, never stuck nor crashed, for corrupt files', () => {
  it('marks a truncated JPEG, a PNG bomb and a HEIC without pixels failed', async () => {
    const jpeg = await samples.orientedJpegWithGps();
    const corrupt: [string, Buffer][] = [
      ['truncated JPEG', jpeg.subarray(0, Math.floor(jpeg.length / 3))],
      ['PNG bomb', samples.pngBomb()],
      ['HEIC head only', samples.heicHead()],
      ['WAV header only', samples.wavSample().subarray(0, 44)],
      ['MP4 cut in half', (await samples.ffmpegSample('mp4')).subarray(0, 4000)],
    ];
    for (const [name, bytes] of corrupt) {
      const media = await uploadAndSettle(api, alice.accessToken, bytes);
      assert.equal(media.status, 'failed', `${name}: ${JSON.stringify(media)}`);
      assert.equal(media.url, undefined, `${name}: no link to bytes that failed`);
      assert.equal(media.thumbnailUrl, undefined, name);
    }
    const ping = await api.get('/ping');
    assert.equal(ping.status, 200);
  });
});

describe('fileName is a label, never a path', () => {
  const label = async (fileName: string) => {
    const answer = await uploadRaw(api, alice.accessToken, await samples.imageSample('webp'), { fileName });
    assert.equal(answer.status, 202, answer.text);
    return answer.body as { id: string; fileName: string };
  };

  it('keeps the last segment, escapes literal, a capped length and no bidi marks', async () => {
    assert.equal((await label('../../etc/passwd')).fileName, 'passwd');
    assert.equal((await label('..\\..\\windows\\win.ini')).fileName, 'win.ini');
    assert.equal((await label('%2e%2e%2fsecret')).fileName, '%2e%2e%2fsecret');
    assert.equal((await label('invoice\u202Egpj.exe\u200F\u2066')).fileName, 'invoicegpj.exe');
    const long = await label('n'.repeat(5000) + '.webp');
    assert.equal(long.fileName.length, 255);
    assert.ok(long.fileName.endsWith('.webp'));
    assert.equal((await label('/')).fileName, 'upload.webp', 'nothing left: a server-made name');
    assert.equal((await label('ünïcødé 🎵.webp')).fileName, 'ünïcødé 🎵.webp');
    assert.equal((await label('🎵'.repeat(300))).fileName, '🎵'.repeat(255), 'capped by characters, none cut in half');
    const malformed = await api.call('POST', '/v1/media?fileName=%ED%A0%80%FF.webp', { token: alice.accessToken, raw: await samples.imageSample('webp') });
    assert.equal(malformed.status, 202, malformed.text);
    assert.equal(malformed.body.fileName, '%ED%A0%80%FF.webp', 'escapes that are not UTF-8 stay literal');
    assert.equal((await label('a\nb\rc\td')).fileName, 'abcd');
    const tooLong = await uploadRaw(api, alice.accessToken, await samples.imageSample('webp'), { fileName: 'x'.repeat(10_001) });
    assertProblem(tooLong, 400, 'invalid_request');
  });

  it('refuses a NUL byte with 400, in the query or in a form\'s file name', async () => {
    const webp = await samples.imageSample('webp');
    await assertRefusedLeavesNothing(testApp, api, async (user) => {
      assertProblem(await uploadRaw(api, user.accessToken, webp, { fileName: 'a\u0000.webp' }), 400, 'invalid_request');
    });
    // In a multipart header a NUL cannot reach the database either: refused or stripped.
    const form = await uploadMultipart(api, alice.accessToken, webp, { fileName: 'b\u0000c.webp' });
    if (form.status === 202) assert.equal(form.body.fileName, 'bc.webp');
    else assertProblem(form, 400, 'invalid_request');
  });

  it('never lets it into a storage key', async () => {
    const named = await label('../../../other-user/evil/original');
    assert.equal(named.fileName, 'original');
    for (const key of await blobKeys(testApp)) {
      const match = KEY.exec(key);
      assert.ok(match, `${key} is a server-made key`);
      assert.doesNotMatch(key, /passwd|evil|other-user|secret|win\.ini|\.\./);
    }
    const rows = await mediaRowsOf(testApp, alice.user.id);
    for (const key of await blobKeys(testApp, `media/${alice.user.id}/`)) {
      assert.ok(rows.some((row) => key.startsWith(`media/${alice.user.id}/${row.id}/`)), `${key} belongs to a row`);
    }
  });
});
