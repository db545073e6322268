import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { SWEEP_MEDIA_JOB } from '../../src/modules/media/sweeper.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { signUp, type TestSession } from '../helpers/factories.ts';
import { client, type Client } from '../helpers/http.ts';
import { blobKeys, uploadAndSettle } from '../helpers/media.ts';
import { eventually, runJob } from '../helpers/wait.ts';
import { imageSample, wavSample } from '../helpers/media-samples.ts';

const put = (testApp: TestApp, key: string) =>
  testApp.deps.blobs.put(key, Readable.from([Buffer.from('orphan')]), { maxBytes: 100 });

describe('the sweeper', () => {
  let testApp: TestApp;
  let api: Client;
  let alice: TestSession;

  before(async () => {
    // No grace: every blob without a row is fair game at once (nothing else uploads in this file).
    testApp = await startApp({ MEDIA_SWEEP_GRACE: '0' });
    api = client(testApp);
    alice = await signUp(api);
  });
  after(() => testApp.close());

  test('removes bytes no row points to and keeps everything in use', async () => {
    const image = await uploadAndSettle(api, alice.accessToken, await imageSample('png'));
    const recording = await api.call('PUT', '/v1/recordings/a.wav', {
      token: alice.accessToken,
      raw: wavSample(1),
      headers: { 'content-type': 'audio/wav' },
    });
    const avatar = await api.call('PUT', '/v1/account/avatar', {
      token: alice.accessToken,
      raw: await imageSample('jpeg'),
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(avatar.status, 200, avatar.text);
    const inUse = [...(await blobKeys(testApp, 'media/')), ...(await blobKeys(testApp, 'avatars/'))].sort();
    assert.equal(inUse.length, 1 + 4 + 1 + 3, 'image original + clean copy and 3 sizes, recording, 3 avatar sizes');

    const orphans = [
      `media/${alice.user.id}/01ORPHANEDUPLOAD0000000000/original`, // a crash before its row was written
      `media/${alice.user.id}/${image.id}X/thumbnail`, // an id that is not quite the image's
      `media/someone-gone/${recording.body.id}/original`, // right id, wrong owner
      `avatars/${alice.user.id}/01REPLACEDAVATAR0000000000/small`, // an image replaced long ago
      'avatars/someone-gone/01AVATAR000000000000000000/large',
    ];
    for (const key of orphans) await put(testApp, key);
    await sleep(5); // modification times strictly before the sweep

    await runJob(testApp, SWEEP_MEDIA_JOB);
    assert.deepEqual([...(await blobKeys(testApp, 'media/')), ...(await blobKeys(testApp, 'avatars/'))].sort(), inUse);
  });

  test('deleting the account removes every byte it stored', async () => {
    const bob = await signUp(api);
    await uploadAndSettle(api, bob.accessToken, await imageSample('webp'));
    await api.call('PUT', '/v1/account/avatar', { token: bob.accessToken, raw: await imageSample('png'), headers: { 'content-type': 'image/png' } });
    assert.ok((await blobKeys(testApp, `media/${bob.user.id}/`)).length > 0);
    assert.equal((await api.delete('/v1/account', { password: bob.password }, { token: bob.accessToken })).status, 204);
    await eventually(async () => {
      assert.deepEqual(await blobKeys(testApp, `media/${bob.user.id}/`), []);
      assert.deepEqual(await blobKeys(testApp, `avatars/${bob.user.id}/`), []);
    }, 10_000);
    assert.ok((await blobKeys(testApp, `media/${alice.user.id}/`)).length > 0, "others' bytes stay");
  });

  test('/metrics shows the jobs by name and state', async () => {
    const metrics = await api.get('/metrics');
    assert.match(metrics.text, /^jobs\{name="media\.process",state="completed"\} [1-9]\d*$/m);
    assert.match(metrics.text, /^jobs\{name="media\.process",state="waiting"\} \d+$/m);
    assert.match(metrics.text, /^jobs\{name="media\.sweep",state="completed"\} [1-9]/m);
  });
});
