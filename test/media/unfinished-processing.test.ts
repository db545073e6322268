import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { signUp } from '../helpers/factories.ts';
import { client } from '../helpers/http.ts';
import { imageSample } from '../helpers/media-samples.ts';
import { uploadAndSettle, waitForMedia } from '../helpers/media.ts';

// With REDIS_URL, BullMQ keeps its jobs in Redis across a crash: only the in-process queue loses them.
const skip = process.env.REDIS_URL ? 'BullMQ keeps its jobs across a restart' : false;

describe('an item whose processing job was lost with the process (in-process queue)', { skip }, () => {
  let testApp: TestApp;
  after(() => testApp?.close());

  it('is processed after the restart', async () => {
    testApp = await startApp();
    const api = client(testApp);
    const owner = await signUp(api);
    const settled = await uploadAndSettle(api, owner.accessToken, await imageSample('png'));
    assert.equal(settled.status, 'ready');
    // The state a crash leaves when it takes the queued job with it: the row still `processing`.
    await testApp.deps.database.db.updateTable('media').set({ status: 'processing' }).where('id', '=', settled.id).execute();
    assert.equal((await api.get(`/v1/media/${settled.id}`, { token: owner.accessToken })).body.status, 'processing');

    testApp = await testApp.restart();
    const after = await waitForMedia(client(testApp), owner.accessToken, settled.id, 10_000);
    assert.equal(after.status, 'ready');
    assert.deepEqual(Object.keys(after.variants ?? {}).sort(), Object.keys(settled.variants ?? {}).sort());
  });
});
