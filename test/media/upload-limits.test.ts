import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { client, type Client } from '../helpers/http.ts';
import { assertProblem, signUp, type TestSession } from '../helpers/factories.ts';
import {
  assertNoErrorLogs,
  assertRefusedLeavesNothing,
  blobKeys,
  cutOffUpload,
  mediaRowsOf,
  pendingBlobWrites,
  putRecording,
  uploadMultipart,
  uploadRaw,
  uploadStreamed,
} from '../helpers/media.ts';
import * as samples from '../helpers/media-samples.ts';
import { eventually } from '../helpers/wait.ts';

const IMAGE_LIMIT = 10_000;
const AUDIO_LIMIT = 250_000;
const QUOTA = 300_000;

let testApp: TestApp;
let api: Client;
let alice: TestSession;

before(async () => {
  testApp = await startApp({
    MEDIA_MAX_IMAGE_BYTES: String(IMAGE_LIMIT),
    MEDIA_MAX_AUDIO_BYTES: String(AUDIO_LIMIT),
    MEDIA_QUOTA_BYTES: String(QUOTA),
  });
  api = client(testApp);
  alice = await signUp(api);
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});


describe('POST /v1/media within its limits', () => {
  it('refuses an upload over its kind\'s limit with 413, declared or streamed', async () => {
    const bigImage = Buffer.concat([await samples.imageSample('png'), Buffer.alloc(IMAGE_LIMIT)]);
    const bigAudio = samples.wavSample(4); // 64 kB, under the audio limit but over the image one
    const hugeAudio = samples.wavSample(20); // 320 kB
    await assertRefusedLeavesNothing(testApp, api, async (user) => {
      assertProblem(await uploadRaw(api, user.accessToken, bigImage), 413, 'payload_too_large');
      assertProblem(await uploadRaw(api, user.accessToken, hugeAudio), 413, 'payload_too_large');
      assertProblem(await uploadMultipart(api, user.accessToken, bigImage), 413, 'payload_too_large');
      // Chunked, with no Content-Length: refused once the limit is passed while storing.
      assertProblem(await uploadStreamed(testApp, user.accessToken, hugeAudio), 413, 'payload_too_large');
      assertProblem(await uploadStreamed(testApp, user.accessToken, bigImage), 413, 'payload_too_large');
    });
    // The limit is per kind: the same size as audio is fine.
    const fine = await uploadRaw(api, alice.accessToken, bigAudio);
    assert.equal(fine.status, 202, fine.text);
  });

  it('takes an upload of exactly the limit, and not one byte more', async () => {
    const png = await samples.imageSample('png');
    const padded = (size: number) => Buffer.concat([png, Buffer.alloc(size - png.length)]);
    const user = await signUp(api);
    for (const send of [
      (bytes: Buffer) => uploadRaw(api, user.accessToken, bytes),
      (bytes: Buffer) => uploadStreamed(testApp, user.accessToken, bytes),
    ]) {
      const exact = await send(padded(IMAGE_LIMIT));
      assert.equal(exact.status, 202, exact.text);
      assert.equal(exact.body.size, IMAGE_LIMIT);
      assertProblem(await send(padded(IMAGE_LIMIT + 1)), 413, 'payload_too_large');
    }
    assert.equal((await mediaRowsOf(testApp, user.user.id)).length, 2);
  });

  it('refuses an upload that would pass the quota, counting every original the user stores', async () => {
    const user = await signUp(api);
    const third = samples.wavSample((QUOTA / 3 - 44) / 2 / 8000); // a third of the quota, to the byte
    assert.equal(third.length, QUOTA / 3);
    for (let i = 0; i < 2; i++) assert.equal((await uploadRaw(api, user.accessToken, third)).status, 202);
    // Recordings count too.
    const recording = await putRecording(api, user.accessToken, 'third.wav', third);
    assert.equal(recording.status, 201, recording.text);
    assertProblem(await putRecording(api, user.accessToken, 'more.wav', samples.wavSample(0.1)), 413, 'payload_too_large');
    const rowsBefore = await mediaRowsOf(testApp, user.user.id);
    const blobsBefore = await blobKeys(testApp, `media/${user.user.id}/`);
    assertProblem(await uploadRaw(api, user.accessToken, third), 413, 'payload_too_large');
    assertProblem(await uploadMultipart(api, user.accessToken, third), 413, 'payload_too_large');
    assert.deepEqual(await mediaRowsOf(testApp, user.user.id), rowsBefore);
    await eventually(async () => assert.deepEqual((await blobKeys(testApp, `media/${user.user.id}/`)).filter((k) => k.endsWith('/original')), blobsBefore.filter((k) => k.endsWith('/original'))));
    // The quota is full to the byte: even the smallest upload is refused, streamed too.
    assertProblem(await uploadRaw(api, user.accessToken, await samples.imageSample('webp')), 413, 'payload_too_large');
    assertProblem(await uploadStreamed(testApp, user.accessToken, await samples.imageSample('webp')), 413, 'payload_too_large');
    assert.deepEqual(await mediaRowsOf(testApp, user.user.id), rowsBefore);
    // Deleting frees the space again.
    const first = rowsBefore.find((row) => row.purpose === 'post');
    assert.equal((await api.delete(`/v1/media/${first?.id}`, undefined, { token: user.accessToken })).status, 204);
    assert.equal((await uploadStreamed(testApp, user.accessToken, third)).status, 202);
    assertProblem(await uploadRaw(api, user.accessToken, await samples.imageSample('webp')), 413, 'payload_too_large');
  });

  it('lets only as many racing uploads in as the quota holds', async () => {
    const user = await signUp(api);
    const piece = samples.wavSample(6); // 96 kB: three fit in 300 kB, the other three must not
    const answers = await Promise.all(Array.from({ length: 6 }, () => uploadRaw(api, user.accessToken, piece)));
    const accepted = answers.filter((answer) => answer.status === 202);
    for (const answer of answers) if (answer.status !== 202) assertProblem(answer, 413, 'payload_too_large');
    assert.equal(accepted.length, 3, answers.map((answer) => answer.status).join());
    assert.equal((await mediaRowsOf(testApp, user.user.id)).length, 3);
    await eventually(async () => {
      const originals = (await blobKeys(testApp, `media/${user.user.id}/`)).filter((key) => key.endsWith('/original'));
      assert.equal(originals.length, 3);
    });
  });

  it('keeps nothing of an upload cut off mid-stream', async () => {
    const user = await signUp(api);
    const wav = samples.wavSample(5);
    await cutOffUpload(testApp, '/v1/media', user.accessToken, wav.subarray(0, 70_000), wav.length);
    await eventually(async () => {
      assert.deepEqual(await mediaRowsOf(testApp, user.user.id), []);
      assert.deepEqual(await blobKeys(testApp, `media/${user.user.id}/`), []);
      assert.deepEqual(await pendingBlobWrites(testApp), [], 'no half-written file left behind');
    });
    // The server is fine afterwards.
    assert.equal((await uploadRaw(api, user.accessToken, wav)).status, 202);
  });
});
