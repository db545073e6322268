import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { follow, publish, signUp } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';
import { uploadRaw, waitForMedia } from './helpers/media.ts';
import { imageSample } from './helpers/media-samples.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { servicesDatabaseUrl } from './helpers/database.ts';
import { eventually } from './helpers/wait.ts';

/**
 * A web instance with WORKERS=0 answers the API and leaves the background work (jobs, the outbox
 * relay) to `plaza worker`: nothing is handled until a worker runs, then everything left is. Only
 * the services run has what they share (PostgreSQL and Redis).
 */

/** Long enough for a web instance that did run the work to have processed a photo and handled the events. */
const WOULD_HAVE_RUN_MS = 2_000;

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

describe('web instances with WORKERS=0 and a plaza worker', { skip: servicesDatabaseUrl === undefined && 'services run only (PostgreSQL and Redis)' }, () => {
  let storage: ServerStorage;
  let web: ServerProcess | undefined;
  let worker: ServerProcess | undefined;
  let api: Client;
  before(async () => {
    storage = await serverStorage();
    web = await startServer({ ...storage.env, WORKERS: '0' });
    api = client(web.url);
  });
  after(async () => {
    await Promise.all([web?.stop(), worker?.stop()]);
    await storage?.release();
  });

  it('leaves the work to the worker, which catches up on everything left', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    await publish(api, author, 'while no worker runs');
    const upload = await uploadRaw(api, author.accessToken, await imageSample('png'));
    assert.equal(upload.status, 202, upload.text);

    await sleep(WOULD_HAVE_RUN_MS);
    const waiting = (await api.get('/metrics')).text;
    assert.ok(metric(waiting, 'outbox_backlog') >= 2, `the follow's and the post's events wait:\n${waiting}`);
    assert.equal((await api.get(`/v1/media/${upload.body.id}`, { token: author.accessToken })).body.status, 'processing');
    assert.deepEqual((await api.get('/v1/notifications', { token: author.accessToken })).body.items, []);

    worker = await startServer(storage.env, 'worker');
    assert.equal((await waitForMedia(api, author.accessToken, upload.body.id)).status, 'ready');
    await eventually(async () => {
      const notifications = (await api.get('/v1/notifications', { token: author.accessToken })).body.items;
      assert.deepEqual(notifications.map((item: { type: string }) => item.type), ['follow']);
    }, 20_000);
    await eventually(async () => assert.equal(metric((await api.get('/metrics')).text, 'outbox_backlog'), 0), 20_000);
    assert.match(worker.output(), /worker is running/);
  });

  it('answers the health routes and /metrics on a worker, and no API', async () => {
    const workerApi = client((worker ?? assert.fail('the worker runs')).url);
    assert.equal((await workerApi.get('/healthz')).status, 200);
    assert.equal((await workerApi.get('/readyz')).status, 200);
    assert.equal((await workerApi.get('/metrics')).status, 200);
    assert.equal((await workerApi.get('/v1/auth/providers')).status, 404);
    assert.equal((await workerApi.post('/v1/auth/signup', { email: 'w@example.test', password: 'long-enough-password', name: 'W' })).status, 404);
  });
});
