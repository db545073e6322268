import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { assertNoErrorLogs, mediaRowsOf } from './helpers/media.ts';
import { assertBecameMedia, create, idOf, metadata, offsetOf, patch, tus, wav, type TusAnswer } from './helpers/tus.ts';

/** Each user's storage, as in the review that found uploads getting around it. */
const QUOTA_BYTES = 1000;
const MAX_OPEN = 8;

let testApp: TestApp;
let api: Client;

before(async () => {
  testApp = await startApp({ MEDIA_QUOTA_BYTES: String(QUOTA_BYTES), UPLOAD_MAX_OPEN_PER_USER: String(MAX_OPEN) });
  api = client(testApp);
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});

function tryCreate(user: TestSession, length: number): Promise<TusAnswer> {
  return tus(testApp, 'POST', '/v1/uploads', { token: user.accessToken, headers: { 'upload-length': String(length) } });
}

async function createDeferred(user: TestSession): Promise<string> {
  const answer = await tus(testApp, 'POST', '/v1/uploads', {
    token: user.accessToken,
    headers: { 'upload-defer-length': '1', 'upload-metadata': metadata('deferred.wav', 'audio/wav') },
  });
  assert.equal(answer.status, 201, answer.text);
  return new URL(answer.headers.get('location') ?? '', testApp.url).pathname;
}

function assertOverQuota(answer: TusAnswer): void {
  assertProblem(answer, 413, 'payload_too_large');
  assert.match(answer.body.detail, /quota of 1000 bytes/);
  assert.equal(answer.headers.get('tus-resumable'), '1.0.0');
}

/** A PATCH whose body is streamed (chunked): the server learns its length only by reading it. */
function patchStreamed(user: TestSession, path: string, offset: number, bytes: Buffer, headers: Record<string, string> = {}): Promise<TusAnswer> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 256) controller.enqueue(bytes.subarray(at, at + 256));
      controller.close();
    },
  });
  return tus(testApp, 'PATCH', path, {
    token: user.accessToken,
    headers: { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', ...headers },
    body,
  });
}

async function stateOf(user: TestSession, path: string): Promise<any> {
  const state = await api.get(path, { token: user.accessToken });
  assert.equal(state.status, 200, state.text);
  return state.body;
}

describe('resumable uploads and the quota', () => {
  it("counts the declared length of open uploads: five 899-byte uploads do not fit 1,000 bytes", async () => {
    const user = await signUp(api);
    const first = await create(testApp, user.accessToken, 899);
    for (let i = 0; i < 4; i++) assertOverQuota(await tryCreate(user, 899));
    const rest = await create(testApp, user.accessToken, 101);
    assertOverQuota(await tryCreate(user, 1));

    // A terminated upload gives its room back.
    assert.equal((await tus(testApp, 'DELETE', first, { token: user.accessToken })).status, 204);
    await create(testApp, user.accessToken, 899);
    assertOverQuota(await tryCreate(user, 1));
    assert.equal(await offsetOf(testApp, user.accessToken, rest), 0);
  });

  it('counts what a deferred-length upload has received, and refuses the PATCH that would go over', async () => {
    const user = await signUp(api);
    const path = await createDeferred(user);
    const bytes = wav(600);

    // 5,000 bytes declared by Content-Length: refused before a byte is stored.
    assertOverQuota(await patch(testApp, user.accessToken, path, 0, wav(5000)));
    assert.equal(await offsetOf(testApp, user.accessToken, path), 0);

    assert.equal((await patch(testApp, user.accessToken, path, 0, bytes)).status, 204);
    assertOverQuota(await tryCreate(user, 401));
    const other = await create(testApp, user.accessToken, 400);

    // Full: not one more byte, whether the body's length is declared or not.
    assertOverQuota(await patch(testApp, user.accessToken, path, 600, Buffer.alloc(1)));
    assertOverQuota(await patchStreamed(user, path, 600, Buffer.alloc(1000)));
    assert.deepEqual(await stateOf(user, path), { id: idOf(path), status: 'uploading', mediaId: null, offset: 600, length: null });

    // An Upload-Length declared later is held to the quota too, and refusing it changes nothing.
    const declareLength = (length: number) =>
      tus(testApp, 'PATCH', path, {
        token: user.accessToken,
        headers: { 'upload-offset': '600', 'upload-length': String(length), 'content-type': 'application/offset+octet-stream' },
      });
    assertOverQuota(await declareLength(5000));
    assert.deepEqual(await stateOf(user, path), { id: idOf(path), status: 'uploading', mediaId: null, offset: 600, length: null });

    // Declaring what it has completes it, as its owner's.
    assert.equal((await declareLength(600)).status, 204);
    await assertBecameMedia(testApp, user.accessToken, path, bytes, 'deferred.wav');
    assertOverQuota(await tryCreate(user, 1));
    assert.equal(await offsetOf(testApp, user.accessToken, other), 0);
  });

  it('keeps no byte of a streamed body beyond the quota, and counts only what it kept', async () => {
    const user = await signUp(api);
    await create(testApp, user.accessToken, 300);
    const path = await createDeferred(user);
    assertOverQuota(await patchStreamed(user, path, 0, wav(5000)));
    const kept = await offsetOf(testApp, user.accessToken, path);
    assert.ok(kept <= 700, `kept ${kept} bytes of a 700-byte room`);
    // What it was granted while streaming is settled to what it kept.
    assertOverQuota(await tryCreate(user, 700 - kept + 1));
    if (kept < 700) await create(testApp, user.accessToken, 700 - kept);
  });

  it('holds a deferred-length creation with a body to the quota, leaving nothing of a refused one', async () => {
    const user = await signUp(api);
    const creation = (body: Buffer | ReadableStream<Uint8Array>) =>
      tus(testApp, 'POST', '/v1/uploads', {
        token: user.accessToken,
        headers: { 'upload-defer-length': '1', 'content-type': 'application/offset+octet-stream' },
        body,
      });
    assertOverQuota(await creation(wav(5000)));
    const streamed = wav(5000);
    assertOverQuota(
      await creation(
        new ReadableStream({
          start(controller) {
            for (let at = 0; at < streamed.length; at += 256) controller.enqueue(streamed.subarray(at, at + 256));
            controller.close();
          },
        }),
      ),
    );
    const rows = await testApp.deps.database.db.selectFrom('resumable_uploads').select('id').where('owner_id', '=', user.user.id).execute();
    assert.deepEqual(rows, [], 'the refused creations left no upload');

    // One that fits holds what it brought.
    const fitting = await creation(wav(200));
    assert.equal(fitting.status, 201, fitting.text);
    assert.equal(fitting.headers.get('upload-offset'), '200');
    assertOverQuota(await tryCreate(user, 801));
    await create(testApp, user.accessToken, 800);
  });

  it('caps the unfinished uploads of each user (409), counting deferred ones; finished or terminated ones free a slot', async () => {
    const [user, other] = await Promise.all([signUp(api), signUp(api)]);
    const paths = [await createDeferred(user)];
    for (let i = 1; i < MAX_OPEN; i++) paths.push(await create(testApp, user.accessToken, 1));
    const refused = await tryCreate(user, 1);
    assertProblem(refused, 409, 'too_many_open_uploads');
    assert.match(refused.body.detail, new RegExp(`${MAX_OPEN} unfinished uploads`));
    assertProblem(
      await tus(testApp, 'POST', '/v1/uploads', { token: user.accessToken, headers: { 'upload-defer-length': '1' } }),
      409,
      'too_many_open_uploads',
    );
    await create(testApp, other.accessToken, 1);

    assert.equal((await tus(testApp, 'DELETE', paths[0] as string, { token: user.accessToken })).status, 204);
    await create(testApp, user.accessToken, 1);
    assertProblem(await tryCreate(user, 1), 409, 'too_many_open_uploads');
    // A one-byte file is no media: refused, it is no longer unfinished.
    assertProblem(await patch(testApp, user.accessToken, paths[1] as string, 0, Buffer.from('x')), 415, 'unsupported_media_type');
    await create(testApp, user.accessToken, 1);
  });

  it('lets only one of two racing creations take the last room', async () => {
    const user = await signUp(api);
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all([tryCreate(user, 600), tryCreate(user, 600)]);
      assert.deepEqual(answers.map((answer) => answer.status).sort(), [201, 413], `round ${round}`);
      const created = answers.find((answer) => answer.status === 201) as TusAnswer;
      const path = new URL(created.headers.get('location') ?? '', testApp.url).pathname;
      assert.equal((await tus(testApp, 'DELETE', path, { token: user.accessToken })).status, 204);
    }
    const many = await Promise.all(Array.from({ length: 6 }, () => tryCreate(user, 300)));
    assert.equal(many.filter((answer) => answer.status === 201).length, 3);
  });

  it('lets only one of two racing PATCHes on deferred-length uploads take the last room', async () => {
    const user = await signUp(api);
    const [first, second] = [await createDeferred(user), await createDeferred(user)];
    const answers = await Promise.all([
      patch(testApp, user.accessToken, first, 0, wav(600)),
      patchStreamed(user, second, 0, wav(600)),
    ]);
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [204, 413]);
    const held = (await offsetOf(testApp, user.accessToken, first)) + (await offsetOf(testApp, user.accessToken, second));
    assert.ok(held <= QUOTA_BYTES, `${held} bytes held`);
  });

  it('counts what open resumable uploads hold against direct uploads, and a completing one once', async () => {
    const user = await signUp(api);
    const held = wav(800);
    const path = await create(testApp, user.accessToken, held.length, 'held.wav');
    const direct = (bytes: Buffer) =>
      api.call('POST', '/v1/media', { token: user.accessToken, raw: bytes, headers: { 'content-type': 'audio/wav' } });
    const record = (bytes: Buffer) =>
      api.call('PUT', '/v1/recordings/memo.wav', { token: user.accessToken, raw: bytes, headers: { 'content-type': 'audio/wav' } });

    // 800 held + 300 would pass 1,000: refused, by both routes that take bytes whole.
    for (const answer of [await direct(wav(300)), await record(wav(300))]) {
      assertProblem(answer, 413, 'payload_too_large');
      assert.match(answer.body.detail, /quota of 1000 bytes/);
    }
    assert.deepEqual(await mediaRowsOf(testApp, user.user.id), []);

    // 200 fits beside the 800 held; completing the upload then fills the quota exactly, its own
    // hold not counted against the item it becomes.
    const beside = await direct(wav(200));
    assert.ok([201, 202].includes(beside.status), beside.text);
    assert.equal((await patch(testApp, user.accessToken, path, 0, held)).status, 204);
    await assertBecameMedia(testApp, user.accessToken, path, held, 'held.wav');
    assert.equal((await mediaRowsOf(testApp, user.user.id)).length, 2);
    assertProblem(await direct(wav(100)), 413, 'payload_too_large');
  });

  it('completes uploads normally within the quota, a finished one counting once, as media', async () => {
    const user = await signUp(api);
    const first = wav(400);
    const firstPath = await create(testApp, user.accessToken, first.length, 'first.wav');
    assert.equal((await patch(testApp, user.accessToken, firstPath, 0, first)).status, 204);
    const firstMedia = await assertBecameMedia(testApp, user.accessToken, firstPath, first, 'first.wav');

    const second = wav(600);
    const secondPath = await create(testApp, user.accessToken, second.length, 'second.wav');
    assert.equal((await patch(testApp, user.accessToken, secondPath, 0, second.subarray(0, 300))).status, 204);
    assert.equal((await patch(testApp, user.accessToken, secondPath, 300, second.subarray(300))).status, 204);
    await assertBecameMedia(testApp, user.accessToken, secondPath, second, 'second.wav');
    assert.equal((await mediaRowsOf(testApp, user.user.id)).length, 2);
    assertOverQuota(await tryCreate(user, 1));

    // Deleting a media item gives its room back to uploads.
    assert.equal((await api.delete(`/v1/media/${firstMedia}`, undefined, { token: user.accessToken })).status, 204);
    await create(testApp, user.accessToken, 400);
  });
});
