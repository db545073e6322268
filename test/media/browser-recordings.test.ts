import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { signUp, type TestSession } from '../helpers/factories.ts';
import { client, type Client } from '../helpers/http.ts';
import { assertNoErrorLogs, putRecording, uploadAndSettle } from '../helpers/media.ts';

/**
 * What a browser's MediaRecorder really makes, kept as recorded (Chromium 156, its fake microphone,
 * 2.2 s of Opus): a live WebM whose Segment and Clusters have unknown sizes and no Duration. ffmpeg's
 * `-live 1` output (media-samples.ts) sizes its clusters, so it does not stand in for this file.
 */
const CHROME_WEBM = readFileSync(new URL('../fixtures/chrome-mediarecorder.webm', import.meta.url));

describe("a recording made by Chrome's MediaRecorder", () => {
  let testApp: TestApp;
  let api: Client;
  let ada: TestSession;
  before(async () => {
    testApp = await startApp();
    api = client(testApp);
    ada = await signUp(api);
  });
  after(async () => {
    assertNoErrorLogs(testApp);
    await testApp.close();
  });

  it('is taken as a recording, measured by decoding it, with its waveform', async () => {
    const answer = await putRecording(api, ada.accessToken, 'take.webm', CHROME_WEBM, 'audio/webm;codecs=opus');
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.body.contentType, 'audio/webm');
    assert.ok(Math.abs(answer.body.durationMs - 2160) < 100, `${answer.body.durationMs} ms`);
    assert.equal(answer.body.waveform.length, 100);
    assert.ok(Math.max(...answer.body.waveform) > 0.5, 'the beeps are in it');
  });

  it('becomes an audio media item for a post', async () => {
    const media = await uploadAndSettle(api, ada.accessToken, CHROME_WEBM, { contentType: 'audio/webm;codecs=opus', fileName: 'voice.webm' });
    assert.equal(media.status, 'ready', JSON.stringify(media));
    assert.equal(media.kind, 'audio');
    assert.ok(Math.abs(media.durationMs - 2160) < 100, `${media.durationMs} ms`);
  });
});
