import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import {
  assertNoErrorLogs,
  blobKeys,
  cutOffUpload,
  fetchBytes,
  mediaRowsOf,
  pendingBlobWrites,
  putRecording,
  uploadAndSettle,
} from './helpers/media.ts';
import * as samples from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';

let testApp: TestApp;
let api: Client;
let alice: TestSession;
let bob: TestSession;
let wav: Buffer;

before(async () => {
  testApp = await startApp({ MEDIA_MAX_AUDIO_BYTES: '300000' });
  api = client(testApp);
  [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
  wav = samples.wavSample(2);
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});

const RECORDING_FIELDS = ['contentType', 'createdAt', 'durationMs', 'fileName', 'id', 'size', 'url', 'waveform'];

function assertAbout(actual: number | null | undefined, expected: number, tolerance = 0.1) {
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= expected * tolerance, `${actual} is not about ${expected}`);
}

async function record(session: TestSession, name: string, bytes = wav, contentType = 'audio/wav') {
  const answer = await putRecording(api, session.accessToken, encodeURIComponent(name), bytes, contentType);
  assert.equal(answer.status, 201, answer.text);
  return answer.body;
}

/** A session's recording ids, every page read, running `between` after each page but the last. */
async function readAllPages(session: TestSession, limit: number, between?: (page: number) => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; ; page++) {
    const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const answer = await api.get(`/v1/recordings?limit=${limit}${suffix}`, { token: session.accessToken });
    assert.equal(answer.status, 200, answer.text);
    ids.push(...answer.body.items.map((item: { id: string }) => item.id));
    cursor = answer.body.nextCursor;
    if (cursor === null) return ids;
    await between?.(page);
  }
}

/** Makes `count` short recordings, a few at a time; their ids, oldest first. */
async function recordMany(session: TestSession, count: number, name: (i: number) => string): Promise<string[]> {
  const short = samples.wavSample(0.1);
  const ids: string[] = [];
  for (let start = 0; start < count; start += 6) {
    const batch = Array.from({ length: Math.min(6, count - start) }, (_, i) => record(session, name(start + i), short));
    ids.push(...(await Promise.all(batch)).map((recording) => recording.id as string));
  }
  return ids.sort();
}

async function problemOf(path: string, token?: string) {
  const answer = await fetchBytes(testApp, path, token === undefined ? {} : { token });
  return { status: answer.status, headers: answer.headers, body: answer.json ?? {}, text: answer.bytes.toString('utf8') };
}

describe('PUT /v1/recordings/{fileName}', () => {
  it('stores a recording, measured before the answer', async () => {
    const answer = await putRecording(api, alice.accessToken, 'Morning%20walk.wav', wav);
    assert.equal(answer.status, 201, answer.text);
    const recording = answer.body;
    assert.deepEqual(Object.keys(recording).sort(), RECORDING_FIELDS);
    assert.equal(recording.fileName, 'Morning walk.wav');
    assert.equal(recording.contentType, 'audio/wav');
    assert.equal(recording.size, wav.length);
    assertAbout(recording.durationMs, 2000, 0.02);
    assert.equal(recording.waveform.length, 100);
    assert.ok(recording.waveform.every((peak: number) => peak >= 0 && peak <= 1));
    assert.ok(Math.max(...recording.waveform) > 0.3, 'a sine is not silence');
    assert.ok(!Number.isNaN(Date.parse(recording.createdAt)));

    assert.deepEqual((await api.get(`/v1/recordings/${recording.id}`, { token: alice.accessToken })).body, recording);
    const bytes = await fetchBytes(testApp, recording.url);
    assert.equal(bytes.status, 200);
    assert.equal(bytes.headers.get('content-type'), 'audio/wav');
    assert.deepEqual(bytes.bytes, wav);
    const keys = await blobKeys(testApp, `media/${alice.user.id}/${recording.id}/`);
    assert.deepEqual(keys, [`media/${alice.user.id}/${recording.id}/original`]);
  });

  it('takes the formats recorders make, as audio/* or application/octet-stream', async () => {
    const cases: [string, Buffer, string, string][] = [
      ['chrome.webm', await samples.ffmpegSample('webmAudio'), 'audio/webm;codecs=opus', 'audio/webm'],
      ['streamed.webm', await samples.ffmpegSample('liveWebmAudio'), 'audio/webm', 'audio/webm'],
      ['safari.mp4', await samples.ffmpegSample('fragmentedMp4Audio'), 'audio/mp4', 'audio/mp4'],
      ['voice.m4a', await samples.ffmpegSample('m4a'), 'application/octet-stream', 'audio/mp4'],
      ['song.mp3', await samples.ffmpegSample('mp3'), 'audio/mpeg', 'audio/mpeg'],
      ['note.ogg', await samples.ffmpegSample('opus'), 'AUDIO/OGG', 'audio/ogg'],
      ['lossless.flac', await samples.ffmpegSample('flac'), 'audio/flac', 'audio/flac'],
      ['lies.wav', await samples.ffmpegSample('aac'), 'audio/wav', 'audio/aac'],
    ];
    for (const [name, bytes, declared, stored] of cases) {
      const recording = await record(alice, name, bytes, declared);
      assert.equal(recording.contentType, stored, name);
      assert.equal(recording.fileName, name);
      assertAbout(recording.durationMs, 1000);
      assert.equal(recording.waveform?.length, 100, name);
    }
  });

  it('takes a long Android recording (audio-only MP4, track list at the end)', async () => {
    const android = await samples.ffmpegSample('androidM4a');
    assert.ok(android.length > 150_000);
    const answer = await putRecording(api, alice.accessToken, 'android.m4a', android, 'audio/mp4');
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.body.contentType, 'audio/mp4');
    assertAbout(answer.body.durationMs, 60_000, 0.02);
    assert.equal(answer.body.waveform?.length, 100);
  });

  it('refuses other content types, other bytes and undecodable audio with 415, keeping nothing', async () => {
    const user = await signUp(api);
    const png = await samples.imageSample('png');
    const refusals: [Buffer, string][] = [
      [wav, 'text/plain'],
      [wav, 'image/png'],
      [wav, 'application/json'],
      [wav, 'video/mp4'],
      [wav, 'audiox/wav'],
      [wav, 'multipart/form-data; boundary=x'],
      [png, 'audio/wav'],
      [await samples.ffmpegSample('mp4'), 'audio/mp4'],
      [await samples.ffmpegSample('webm'), 'application/octet-stream'],
      [samples.htmlSample, 'audio/mpeg'],
      [samples.zipSample(), 'application/octet-stream'],
      [wav.subarray(0, 44), 'audio/wav'], // a WAV header and no sound: not decodable
    ];
    for (const [bytes, contentType] of refusals) {
      const answer = await putRecording(api, user.accessToken, 'x.wav', bytes, contentType);
      assertProblem(answer, 415, 'unsupported_media_type');
    }
    const noType = await api.call('PUT', '/v1/recordings/x.wav', { token: user.accessToken, raw: wav });
    assertProblem(noType, 415, 'unsupported_media_type');
    assertProblem(await putRecording(api, user.accessToken, 'x.wav', Buffer.alloc(0)), 400, 'invalid_request');
    assertProblem(await putRecording(api, undefined, 'x.wav', wav), 401, 'unauthorized');
    assertProblem(await putRecording(api, user.accessToken, 'x.wav', samples.wavSample(20)), 413, 'payload_too_large');
    assert.deepEqual(await mediaRowsOf(testApp, user.user.id), []);
    await eventually(async () => assert.deepEqual(await blobKeys(testApp, `media/${user.user.id}/`), []));
    assert.deepEqual((await api.get('/v1/recordings', { token: user.accessToken })).body, { items: [], nextCursor: null });
  });

  it('keeps only a label of the file name: no path, no NUL, no bidi marks, capped length', async () => {
    const user = await signUp(api);
    const label = async (pathName: string) => {
      const answer = await putRecording(api, user.accessToken, pathName, wav);
      assert.equal(answer.status, 201, `${pathName.slice(0, 50)}: ${answer.text.slice(0, 300)}`);
      return answer.body.fileName as string;
    };
    assert.equal(await label('..%2F..%2Fetc%2Fpasswd'), 'passwd');
    assert.equal(await label('..%5C..%5Cboot.ini'), 'boot.ini');
    assert.equal(await label('%252e%252e%252fsecret.wav'), '%2e%2e%2fsecret.wav');
    assert.equal(await label(encodeURIComponent('memo\u202Evaw.exe\u200E')), 'memovaw.exe');
    assert.equal(await label('..%2F'), 'recording.wav');
    const long = await label('r'.repeat(1000) + '.wav');
    assert.equal(long.length, 255);
    assert.ok(long.endsWith('.wav'));
    assertProblem(await putRecording(api, user.accessToken, 'a%00b.wav', wav), 400, 'invalid_request');

    const rows = await mediaRowsOf(testApp, user.user.id);
    assert.equal(rows.length, 6);
    for (const key of await blobKeys(testApp, `media/${user.user.id}/`)) {
      assert.match(key, /^media\/[^/]+\/[^/]+\/original$/);
      assert.ok(rows.some((row) => key === `media/${user.user.id}/${row.id}/original`), key);
    }
    assert.deepEqual(
      (await blobKeys(testApp, '')).filter((key) => /passwd|boot|secret|\.\./.test(key)),
      [],
      'no key anywhere comes from a file name',
    );
  });

  it('keeps nothing of a recording cut off mid-stream', async () => {
    const user = await signUp(api);
    const long = samples.wavSample(8);
    await cutOffUpload(testApp, '/v1/recordings/cut.wav', user.accessToken, long.subarray(0, 80_000), long.length, 'PUT');
    await eventually(async () => {
      assert.deepEqual(await mediaRowsOf(testApp, user.user.id), []);
      assert.deepEqual(await blobKeys(testApp, `media/${user.user.id}/`), []);
      assert.deepEqual(await pendingBlobWrites(testApp), []);
    });
  });
});

describe('reading, listing and deleting recordings', () => {
  it('serves the bytes by range, to the owner or through the signed link', async () => {
    const recording = await record(alice, 'range.wav');
    const path = `/v1/recordings/${recording.id}/content`;
    const whole = await fetchBytes(testApp, path, { token: alice.accessToken });
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.bytes, wav);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.match(whole.headers.get('etag') ?? '', /^"[^"]+"$/);
    assert.equal(whole.headers.get('x-content-type-options'), 'nosniff');
    assert.match(whole.headers.get('content-disposition') ?? '', /^inline; filename="?range\.wav"?$/);
    const cached = await fetchBytes(testApp, path, { token: alice.accessToken, headers: { 'if-none-match': whole.headers.get('etag') ?? '' } });
    assert.equal(cached.status, 304);

    for (const [range, start, end] of [['bytes=0-0', 0, 0], ['bytes=-1', wav.length - 1, wav.length - 1], ['bytes=1000-', 1000, wav.length - 1]] as const) {
      for (const answer of [
        await fetchBytes(testApp, path, { token: alice.accessToken, headers: { range } }),
        await fetchBytes(testApp, recording.url, { headers: { range } }),
      ]) {
        assert.equal(answer.status, 206, range);
        assert.equal(answer.headers.get('content-range'), `bytes ${start}-${end}/${wav.length}`);
        assert.deepEqual(answer.bytes, wav.subarray(start, end + 1));
      }
    }
    const unsatisfiable = await fetchBytes(testApp, path, { token: alice.accessToken, headers: { range: `bytes=${wav.length}-` } });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${wav.length}`);
    assertProblem(await problemOf(path), 401, 'unauthorized');
    const tampered = new URL(recording.url, testApp.url);
    tampered.searchParams.set('exp', String(Math.floor(Date.now() / 1000) - 1));
    assertProblem(await problemOf(`${tampered.pathname}${tampered.search}`), 403, 'forbidden');
  });

  it('hides recordings from everyone but their owner', async () => {
    const recording = await record(alice, 'secret.wav');
    for (const path of [`/v1/recordings/${recording.id}`, `/v1/recordings/${recording.id}/content`]) {
      assertProblem(await problemOf(path, bob.accessToken), 404, 'not_found');
    }
    assertProblem(await api.delete(`/v1/recordings/${recording.id}`, undefined, { token: bob.accessToken }), 404, 'not_found');
    assert.ok(!(await readAllPages(bob, 100)).includes(recording.id));
    assertProblem(await api.get('/v1/recordings'), 401, 'unauthorized');
    assertProblem(await api.get(`/v1/recordings/${recording.id}`), 401, 'unauthorized');
    assert.equal((await api.get(`/v1/recordings/${recording.id}`, { token: alice.accessToken })).status, 200);
  });

  it('keeps recordings and media apart', async () => {
    const recording = await record(alice, 'apart.wav');
    const media = await uploadAndSettle(api, alice.accessToken, wav);
    const token = alice.accessToken;
    assertProblem(await api.get(`/v1/media/${recording.id}`, { token }), 404, 'not_found');
    assertProblem(await problemOf(`/v1/media/${recording.id}/content`, token), 404, 'not_found');
    assertProblem(await api.delete(`/v1/media/${recording.id}`, undefined, { token }), 404, 'not_found');
    // A recording's link, pointed at the media route (and the other way round), does not work either.
    const link = new URL(recording.url, testApp.url);
    assertProblem(await problemOf(`/v1/media/${recording.id}/content${link.search}`), 404, 'not_found');
    const mediaLink = new URL(media.url, testApp.url);
    assertProblem(await problemOf(`/v1/recordings/${media.id}/content${mediaLink.search}`), 404, 'not_found');
    assertProblem(await api.get(`/v1/recordings/${media.id}`, { token }), 404, 'not_found');
    assertProblem(await api.delete(`/v1/recordings/${media.id}`, undefined, { token }), 404, 'not_found');
    assert.ok(!(await readAllPages(alice, 100)).includes(media.id));
    assert.equal((await api.get(`/v1/recordings/${recording.id}`, { token })).status, 200);
    assert.equal((await api.get(`/v1/media/${media.id}`, { token })).status, 200);
  });

  it('deletes a recording and its bytes', async () => {
    const recording = await record(alice, 'bye.wav');
    const prefix = `media/${alice.user.id}/${recording.id}/`;
    assert.equal((await blobKeys(testApp, prefix)).length, 1);
    assertProblem(await api.delete(`/v1/recordings/${recording.id}`), 401, 'unauthorized');
    const removed = await api.delete(`/v1/recordings/${recording.id}`, undefined, { token: alice.accessToken });
    assert.equal(removed.status, 204);
    assert.deepEqual(await blobKeys(testApp, prefix), []);
    assertProblem(await api.get(`/v1/recordings/${recording.id}`, { token: alice.accessToken }), 404, 'not_found');
    assertProblem(await problemOf(recording.url), 404, 'not_found');
    assertProblem(await api.delete(`/v1/recordings/${recording.id}`, undefined, { token: alice.accessToken }), 404, 'not_found');
    assert.ok(!(await readAllPages(alice, 100)).includes(recording.id));
  });

  it('lists newest first, 20 by default, and refuses bad paging', async () => {
    const pager = await signUp(api);
    const made = await recordMany(pager, 23, (i) => `take ${i}.wav`);
    const first = await api.get('/v1/recordings', { token: pager.accessToken });
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 20);
    assert.deepEqual(Object.keys(first.body.items[0]).sort(), RECORDING_FIELDS);
    assert.equal(first.body.items[0].id, made.at(-1));
    assert.deepEqual(await readAllPages(pager, 5), [...made].reverse());
    assert.equal((await api.get('/v1/recordings?limit=100', { token: pager.accessToken })).body.nextCursor, null);
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=not-a-cursor', 'cursor=%00']) {
      assertProblem(await api.get(`/v1/recordings?${query}`, { token: pager.accessToken }), 400, 'invalid_request');
    }
  });

  it('neither repeats nor skips while recordings are added and deleted during paging', async () => {
    const pager = await signUp(api);
    const short = samples.wavSample(0.1);
    const existing = await recordMany(pager, 18, (i) => `before ${i}.wav`);
    const newestFirst = [...existing].reverse();
    const deleted = new Set<string>();
    const seen = await readAllPages(pager, 4, async (page) => {
      const victims = newestFirst.slice(6 + page * 2, 7 + page * 2);
      await Promise.all([
        record(pager, `during ${page}.wav`, short),
        ...victims.map(async (id) => {
          deleted.add(id);
          const answer = await api.delete(`/v1/recordings/${id}`, undefined, { token: pager.accessToken });
          assert.equal(answer.status, 204);
        }),
      ]);
    });
    assert.equal(new Set(seen).size, seen.length, 'no repeats');
    assert.deepEqual(seen, newestFirst.filter((id) => !deleted.has(id) || seen.includes(id)));
    assert.ok(deleted.size > 0);
  });
});
