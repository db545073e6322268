import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { signUp, type TestSession } from '../helpers/factories.ts';
import { client, type Client } from '../helpers/http.ts';
import { putRecording, uploadAndSettle } from '../helpers/media.ts';
import { ffmpegSample, imageSample, wavSample } from '../helpers/media-samples.ts';

describe('a server without ffmpeg', () => {
  let testApp: TestApp;
  let api: Client;
  let alice: TestSession;

  before(async () => {
    testApp = await startApp({ FFMPEG_PATH: '/nonexistent/ffmpeg', FFPROBE_PATH: '/nonexistent/ffprobe' });
    api = client(testApp);
    alice = await signUp(api);
  });
  after(() => testApp.close());

  test('says so at start-up', () => {
    const warning = testApp.logs.find((line) => line.level === 40 && /ffmpeg\/ffprobe not found/.test(String(line.msg)));
    assert.ok(warning, 'a warning names what is missing');
  });

  test('still takes every kind, leaving empty what only ffmpeg could tell', async () => {
    const image = await uploadAndSettle(api, alice.accessToken, await imageSample('png'));
    assert.equal(image.status, 'ready');
    assert.equal(image.width, 64, 'images need only sharp');

    const audio = await uploadAndSettle(api, alice.accessToken, wavSample(2));
    assert.equal(audio.status, 'ready');
    assert.equal(audio.durationMs, 2000, 'read from the WAV header');
    assert.equal(audio.waveform, undefined);

    const video = await uploadAndSettle(api, alice.accessToken, await ffmpegSample('mp4'));
    assert.equal(video.status, 'ready');
    for (const field of ['durationMs', 'width', 'height', 'thumbnailUrl', 'blurhash']) assert.equal(video[field], undefined, field);
    assert.ok(video.url);

    const recording = await putRecording(api, alice.accessToken, 'memo.wav', wavSample(3));
    assert.equal(recording.status, 201, recording.text);
    assert.equal(recording.body.durationMs, 3000);
    assert.equal(recording.body.waveform, null);
  });
});
