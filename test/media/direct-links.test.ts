import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { signUp, type TestSession } from '../helpers/factories.ts';
import { client, type Client } from '../helpers/http.ts';
import { putRecording } from '../helpers/media.ts';
import { imageSample, wavSample } from '../helpers/media-samples.ts';

/**
 * With S3_REDIRECT_DOWNLOADS, content answers send the client to the bucket itself (the services run,
 * on s3rver); the local directory store has no such links, so there the bytes come through Plaza.
 */
describe('S3_REDIRECT_DOWNLOADS', () => {
  let testApp: TestApp;
  let api: Client;
  let alice: TestSession;

  before(async () => {
    testApp = await startApp({ S3_REDIRECT_DOWNLOADS: 'true' });
    api = client(testApp);
    alice = await signUp(api);
  });
  after(() => testApp.close());

  test('hands out the bytes, straight from the bucket when it can, after the same access checks', async () => {
    const bytes = wavSample(1);
    const recording = await putRecording(api, alice.accessToken, 'note.wav', bytes);
    assert.equal(recording.status, 201, recording.text);

    const answer = await fetch(`${testApp.url}${recording.body.url}`, { redirect: 'manual' });
    if (testApp.config.s3 === undefined) {
      assert.equal(answer.status, 200);
      assert.deepEqual(Buffer.from(await answer.arrayBuffer()), bytes);
    } else {
      assert.equal(answer.status, 302);
      const location = new URL(answer.headers.get('location') ?? '');
      assert.equal(location.origin, new URL(testApp.config.s3.endpoint ?? '').origin);
      assert.match(location.search, /X-Amz-Signature=/);
      const direct = await fetch(location);
      assert.equal(direct.status, 200);
      assert.equal(direct.headers.get('content-type'), 'audio/wav');
      assert.match(direct.headers.get('content-disposition') ?? '', /note\.wav/);
      assert.deepEqual(Buffer.from(await direct.arrayBuffer()), bytes);
    }

    const stranger = await signUp(api);
    const refused = await fetch(`${testApp.url}/v1/recordings/${recording.body.id}/content`, {
      redirect: 'manual',
      headers: { authorization: `Bearer ${stranger.accessToken}` },
    });
    assert.equal(refused.status, 404, 'no link for anyone the item is hidden from');
    const avatar = await api.call('PUT', '/v1/account/avatar', { token: alice.accessToken, raw: await imageSample('png'), headers: { 'content-type': 'image/png' } });
    assert.equal(avatar.status, 200, avatar.text);
    const image = await fetch(`${testApp.url}${avatar.body.avatarUrl}?size=small`, { redirect: 'manual' });
    assert.equal(image.status, testApp.config.s3 === undefined ? 200 : 302);
    const followed = await fetch(`${testApp.url}${avatar.body.avatarUrl}?size=small`);
    assert.equal(followed.headers.get('content-type'), 'image/webp');

    const tampered = await fetch(`${testApp.url}${recording.body.url.replace(/sig=(.)/, (_: string, first: string) => `sig=${first === 'A' ? 'B' : 'A'}`)}`, { redirect: 'manual' });
    assert.equal(tampered.status, 403);
  });
});
